//! The plugin binary driven as a runtime drives it (CNI_* variables, the configuration on
//! stdin) against a running `vwifi-host`: ADD attaches, joins the WPA2 demo network and takes
//! host-local addresses, two containers ping each other, CHECK passes, a wrong passphrase and
//! an unknown network fail with their codes and leave no station behind, DEL is idempotent, and
//! a daemon that is not running is named as such.
//!
//! Needs root, `unshare`, `mount`, `ping`, the CNI plugins (`host-local`, from Debian's
//! containernetworking-plugins: /usr/lib/cni) and `vwifi-host` built beside `vwifi-cni`
//! (`cargo build -p vwifi-host -p vwifi-cni`); ignored otherwise (CI runs ignored tests as root).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{text, Daemon, LAB_PASSPHRASE, PLUGIN};

const CNI_PATH: &str = "/usr/lib/cni:/opt/cni/bin";

/// A process alone in a new network namespace, its namespace bind-mounted on a file (as
/// podman leaves it under /run/netns); killed and unmounted when dropped.
struct Sandbox {
    child: Child,
    bind: PathBuf,
    id: String,
}

impl Sandbox {
    fn new(dir: &Path, name: &str) -> Self {
        let child = Command::new("unshare")
            .args(["-n", "sleep", "600"])
            .spawn()
            .unwrap();
        let ns = format!("/proc/{}/ns/net", child.id());
        let own = std::fs::read_link("/proc/self/ns/net").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::fs::read_link(&ns).ok().as_ref() == Some(&own) {
            assert!(Instant::now() < deadline, "unshare made no namespace");
            std::thread::sleep(Duration::from_millis(10));
        }
        let bind = dir.join(name);
        File::create(&bind).unwrap();
        let out = Command::new("mount")
            .arg("--bind")
            .arg(&ns)
            .arg(&bind)
            .output()
            .unwrap();
        assert!(out.status.success(), "mount: {}", text(&out));
        Self {
            child,
            bind,
            id: name.to_owned(),
        }
    }

    fn netns(&self) -> String {
        self.bind.display().to_string()
    }

    fn exec(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net={}", self.bind.display()))
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("umount").arg(&self.bind).status();
    }
}

/// Runs the plugin with `command` for `sandbox`, `config` on stdin.
fn cni(command: &str, sandbox: &Sandbox, config: &str) -> Output {
    let mut child = Command::new(PLUGIN)
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", format!("test-{}", sandbox.id))
        .env("CNI_NETNS", sandbox.netns())
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", CNI_PATH)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(config.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn config(socket: &Path, ssid: &str, passphrase: &str, data_dir: &Path) -> String {
    serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "vwifi-test",
        "type": "vwifi-cni",
        "ssid": ssid,
        "passphrase": passphrase,
        "ifname": "wlan0",
        "socket": socket,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": "10.88.7.0/24"}]],
            "dataDir": data_dir,
        },
    })
    .to_string()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

#[test]
#[ignore = "needs root, unshare, mount and the CNI plugins (host-local); CI runs ignored tests as root"]
fn add_joins_and_addresses_check_passes_failures_are_explained_and_del_is_idempotent() {
    assert!(
        CNI_PATH
            .split(':')
            .any(|d| Path::new(d).join("host-local").exists()),
        "host-local is not installed (containernetworking-plugins)"
    );
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let ipam_dir = dir.path().join("ipam");
    let (a, b) = (Sandbox::new(dir.path(), "a"), Sandbox::new(dir.path(), "b"));
    let good = config(&daemon.socket, "vwifi-lab", LAB_PASSPHRASE, &ipam_dir);

    let t0 = Instant::now();
    let out = cni("ADD", &a, &good);
    assert!(
        out.status.success(),
        "ADD: {}\n{}",
        text(&out),
        daemon.log_text()
    );
    eprintln!(
        "ADD (attach, join WPA2, host-local) took {:?}",
        t0.elapsed()
    );
    let res = json(&out);
    assert_eq!(res["cniVersion"], "1.0.0");
    assert_eq!(res["interfaces"][0]["name"], "wlan0");
    assert_eq!(res["interfaces"][0]["sandbox"], a.netns());
    let mac = res["interfaces"][0]["mac"].as_str().unwrap().to_owned();
    assert_eq!(mac.len(), 17, "{res}");
    assert_eq!(res["ips"][0]["interface"], 0);
    let addr_a = res["ips"][0]["address"].as_str().unwrap().to_owned();
    assert!(addr_a.starts_with("10.88.7."), "{res}");
    let link = text(&a.exec(&["ip", "addr", "show", "wlan0"]));
    assert!(link.contains(&addr_a) && link.contains(&mac), "{link}");

    let out = cni("ADD", &b, &good);
    assert!(out.status.success(), "ADD b: {}", text(&out));
    let addr_b = json(&out)["ips"][0]["address"]
        .as_str()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let ping = a.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "3", &addr_b]);
    assert!(ping.status.success(), "ping: {}", text(&ping));

    // CHECK with the previous result.
    let mut prev: serde_json::Value = serde_json::from_str(&good).unwrap();
    prev["prevResult"] = res.clone();
    let out = cni("CHECK", &a, &prev.to_string());
    assert!(out.status.success(), "CHECK: {}", text(&out));

    // A wrong passphrase and an unknown network: their codes, and no station left behind.
    let c = Sandbox::new(dir.path(), "c");
    let wrong = config(&daemon.socket, "vwifi-lab", "not the passphrase", &ipam_dir);
    let out = cni("ADD", &c, &wrong);
    assert!(!out.status.success());
    let e = json(&out);
    assert_eq!(e["code"], 102, "{e}");
    assert!(
        e["msg"].as_str().unwrap().contains("wrong passphrase"),
        "{e}"
    );
    let unknown = config(&daemon.socket, "no-such-net", LAB_PASSPHRASE, &ipam_dir);
    let out = cni("ADD", &c, &unknown);
    let e = json(&out);
    assert_eq!(e["code"], 101, "{e}");
    assert!(
        e["msg"].as_str().unwrap().contains("network not found"),
        "{e}"
    );
    assert!(!daemon.guests().contains(&c.netns()), "{}", daemon.guests());

    // DEL twice: both succeed, the station and the address are gone.
    for _ in 0..2 {
        let out = cni("DEL", &a, &good);
        assert!(out.status.success(), "DEL: {}", text(&out));
    }
    assert!(!daemon.guests().contains(&a.netns()), "{}", daemon.guests());
    assert!(!a.exec(&["ip", "link", "show", "wlan0"]).status.success());

    // No daemon: ADD says so (try again later), DEL still succeeds.
    let nowhere = config(
        &dir.path().join("none.sock"),
        "vwifi-lab",
        LAB_PASSPHRASE,
        &ipam_dir,
    );
    let out = cni("ADD", &c, &nowhere);
    let e = json(&out);
    assert_eq!(e["code"], 11, "{e}");
    assert!(e["msg"].as_str().unwrap().contains("not running"), "{e}");
    assert!(cni("DEL", &c, &nowhere).status.success());
}
