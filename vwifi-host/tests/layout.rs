//! The house rules of the workspace's layout, checked from the source text (CI runs this file
//! as its own step, `layout`):
//! - no import cycle among `vwifi-host`'s top-level modules: the `crate::MODULE` paths in each
//!   module's production code (comments and test code left out) draw a graph that must have no
//!   cycle, so that every module can be read knowing only the ones below it;
//! - no `Any` downcast anywhere in the workspace: a node, a radio or a port is reached by its
//!   type through a typed set ([`vwifi_core::radio::Holds`]) or a trait, never by erasing and
//!   recovering its type.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The production code of a Rust file: without its comments (line comments and doc comments;
/// block comments are not used in this workspace's code) and without its tests (from the first
/// `#[cfg(test)]` on: test modules stand at the end of a file).
fn code(text: &str) -> String {
    let production = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    production
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules named `crate::NAME` in `code`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `vwifi_core::...` ends in `core::`, not `crate::`; be safe anyway
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if name.chars().next().is_some_and(char::is_lowercase) {
            out.insert(name);
        } else if let Some(braced) = rest.strip_prefix('{') {
            // `use crate::{a, b::c}`: every first segment in the braces.
            let inner: String = braced.chars().take_while(|c| *c != '}').collect();
            for part in inner.split(',') {
                let first: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !first.is_empty() {
                    out.insert(first);
                }
            }
        }
    }
    out
}

/// The graph of `vwifi-host`'s top-level modules: module → the modules its code names.
fn host_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "main" || file.ends_with("tests.rs") {
            continue; // the root declares every module; test files use what they test
        }
        let text = fs::read_to_string(&file).unwrap();
        let refs = graph.entry(module.clone()).or_default();
        refs.extend(
            crate_refs(&code(&text))
                .into_iter()
                .filter(|m| *m != module),
        );
    }
    graph
}

/// A cycle in `graph`, if there is one (as the list of modules around it).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let at = path.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = path[at..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, marks, path) {
                return Some(c);
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_checker_finds_references_and_cycles() {
    let refs = crate_refs(&code(
        "use crate::a::B;\nuse crate::{b, c::D};\n// crate::comment\nlet x = crate::d::f();",
    ));
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        vec!["a", "b", "c", "d"]
    );
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn host_modules_import_each_other_without_a_cycle() {
    let graph = host_graph();
    assert!(graph.contains_key("driver") && graph.contains_key("ports"));
    let edges: Vec<String> = graph
        .iter()
        .map(|(m, refs)| {
            let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
            format!("  {m} -> {}", refs.join(", "))
        })
        .collect();
    eprintln!("vwifi-host's module graph:\n{}", edges.join("\n"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "vwifi-host's modules import each other in a cycle: {}\nthe graph:\n{}",
            cycle.join(" -> "),
            edges.join("\n")
        );
    }
}

/// The workspace's Rust files (not `target/`).
fn workspace_files() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for entry in fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && !name.starts_with('.') && name != "target" {
            out.extend(rust_files(&path));
        }
    }
    out
}

/// What an `Any` downcast looks like in code.
const DOWNCASTS: [&str; 6] = [
    "downcast_ref",
    "downcast_mut",
    "downcast::<",
    "as_any",
    "any::Any",
    "dyn Any",
];

#[test]
fn no_any_downcast_in_the_workspace() {
    let files = workspace_files();
    assert!(files.len() > 100, "only {} files found", files.len());
    let mut found = Vec::new();
    for file in files {
        if file.ends_with("tests/layout.rs") {
            continue; // this file names them
        }
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if DOWNCASTS.iter().any(|d| code.contains(d)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "Any downcasts (reach a node by its type with vwifi_core::radio::Holds, or a trait):\n{}",
        found.join("\n")
    );
}
