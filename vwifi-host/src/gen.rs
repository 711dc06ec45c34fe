//! `vwifi-host gen`: the man pages and shell completions, generated from the clap definitions
//! ([`crate::cli::Cli`]) with clap_mangen and clap_complete, so that they never drift from
//! the command line.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::{Cli, GenArgs};
use crate::error::HostError;

/// The shells completions are written for.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Writes `DIR/man/*.1` and `DIR/completions/*`, and lists them on `out`.
pub(crate) fn run(args: &GenArgs, out: &mut impl io::Write) -> Result<(), HostError> {
    let written = generate(&args.dir)?;
    for path in written {
        writeln!(out, "{}", path.display()).map_err(HostError::WriteStdout)?;
    }
    Ok(())
}

/// Writes the files under `dir`; their paths.
fn generate(dir: &Path) -> Result<Vec<PathBuf>, HostError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| HostError::Gen { path, source }
    };
    let man_dir = dir.join("man").join("man1");
    let completions = dir.join("completions");
    for d in [&man_dir, &completions] {
        fs::create_dir_all(d).map_err(err(d))?;
    }
    let mut written = Vec::new();
    let cmd = Cli::command();
    let main = man_dir.join("vwifi-host.1");
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .map_err(err(&main))?;
    fs::write(&main, page).map_err(err(&main))?;
    written.push(main);
    for sub in cmd.get_subcommands() {
        let name = format!("vwifi-host-{}", sub.get_name());
        let path = man_dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name))
            .render(&mut page)
            .map_err(err(&path))?;
        fs::write(&path, page).map_err(err(&path))?;
        written.push(path);
    }
    for shell in SHELLS {
        let mut cmd = Cli::command();
        let path = clap_complete::generate_to(shell, &mut cmd, "vwifi-host", &completions)
            .map_err(err(&completions))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_and_completions_follow_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let written = generate(dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "vwifi-host.1",
            "vwifi-host-attach.1",
            "vwifi-host-run.1",
            "vwifi-host.bash",
            "_vwifi-host",
            "vwifi-host.fish",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        let attach = fs::read_to_string(dir.path().join("man/man1/vwifi-host-attach.1")).unwrap();
        assert!(
            attach.starts_with(".ie") || attach.contains(".TH"),
            "{attach}"
        );
        assert!(attach.contains("netns\\-path"), "{attach}");
        let bash = fs::read_to_string(dir.path().join("completions/vwifi-host.bash")).unwrap();
        for word in ["attach", "--netns-path", "--pid", "vhost-user"] {
            assert!(bash.contains(word), "{word} not completed");
        }
    }
}
