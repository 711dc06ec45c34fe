//! Real container engines with no image registry (a local image of Debian's busybox-static):
//! - podman with its CNI backend: `podman run --network vwifi-lab` gets `wlan0` joined to the
//!   simulated WPA2 network by `vwifi-cni` and pings a second container on it; removing the
//!   containers removes their stations;
//! - docker: `dockerd` started by the test (its own data and exec roots), a running container
//!   (`--network none`) attached with `vwifi-host attach --pid`, joined from the host
//!   (`nsenter -n vwifi-guest --link wlan0 connect`), pinging another; a killed container loses
//!   its station within a second with no command.
//!
//! Everything the engines read is written here, in temporary directories: podman's
//! `containers.conf` (through `CONTAINERS_CONF`: the CNI backend, runc, rlimits the sandbox
//! allows, the network directory and the plugin directories) and the network's conflist.
//!
//! Needs root, podman, containernetworking-plugins, busybox-static and docker.io
//! (`tests/install-deps.sh`), and `vwifi-host`, `vwifi-guest` built beside `vwifi-cni`
//! (`cargo build -p vwifi-host -p vwifi-guest -p vwifi-cni`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{sibling, text, Daemon, LAB_PASSPHRASE, PLUGIN};

/// A container's station must be gone this soon after its last process exits.
const GONE_WITHIN: Duration = Duration::from_secs(1);

/// Runs `cmd`, which must succeed; its standard output, trimmed.
fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A directory with `bin/busybox`, as a tar stream for `podman import` / `docker import`.
fn busybox_tar(dir: &Path) -> Vec<u8> {
    let root = dir.join("image");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static");
    let out = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-c", "."])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

/// Pipes `input` into `cmd`, which must succeed.
fn ok_with_input(cmd: &mut Command, input: &[u8]) -> String {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits until `vwifi-host status` no longer names `what`; how long it took.
fn wait_gone(daemon: &Daemon, what: &str, limit: Duration) -> Duration {
    let t0 = Instant::now();
    while daemon.guests().contains(what) {
        assert!(
            t0.elapsed() < limit,
            "{what} still there after {limit:?}: {}",
            daemon.guests()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    t0.elapsed()
}

/// podman with a `containers.conf` of the test's own; removes its containers when dropped.
struct Podman {
    conf: PathBuf,
    names: Vec<String>,
}

impl Podman {
    fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", &self.conf);
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.cmd().args(["rm", "-f", "-t", "0", n]).output();
        }
    }
}

#[test]
#[ignore = "needs root, podman, docker"]
fn podman_containers_on_a_vwifi_network_join_wpa2_and_ping() {
    let daemon = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let net_dir = dir.path().join("cni");
    std::fs::create_dir_all(&net_dir).unwrap();
    let plugin_dir = Path::new(PLUGIN).parent().unwrap();
    let conf = dir.path().join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            "[containers]\n\
             default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
             [network]\n\
             network_backend = \"cni\"\n\
             network_config_dir = \"{}\"\n\
             cni_plugin_dirs = [\"{}\", \"/usr/lib/cni\"]\n\
             [engine]\n\
             runtime = \"runc\"\n",
            net_dir.display(),
            plugin_dir.display()
        ),
    )
    .unwrap();
    let network = format!("vwifi-lab-{}", std::process::id());
    let conflist = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": network,
        "plugins": [{
            "type": "vwifi-cni",
            "ssid": "vwifi-lab",
            "passphrase": LAB_PASSPHRASE,
            "ifname": "wlan0",
            "socket": daemon.socket,
            "ipam": {
                "type": "host-local",
                "ranges": [[{"subnet": "10.88.9.0/24"}]],
                "dataDir": dir.path().join("ipam"),
            },
        }],
    });
    std::fs::write(
        net_dir.join(format!("{network}.conflist")),
        serde_json::to_string_pretty(&conflist).unwrap(),
    )
    .unwrap();
    let mut podman = Podman {
        conf,
        names: Vec::new(),
    };
    let listed = ok(podman
        .cmd()
        .args(["network", "ls", "--format", "{{.Name}}"]));
    assert!(listed.lines().any(|l| l == network), "{listed}");
    let image = format!("localhost/vwifi-bb-{}:latest", std::process::id());
    ok_with_input(
        podman.cmd().args(["import", "-", &image]),
        &busybox_tar(dir.path()),
    );

    let mut addrs = Vec::new();
    for tag in ["a", "b"] {
        let name = format!("vwt-{tag}-{}", std::process::id());
        podman.names.push(name.clone());
        let t0 = Instant::now();
        ok(podman.cmd().args([
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &network,
            "--cap-add",
            "NET_RAW",
            &image,
            "/bin/busybox",
            "sleep",
            "600",
        ]));
        eprintln!(
            "podman run {name} (vwifi-cni ADD included) took {:?}",
            t0.elapsed()
        );
        let ip = ok(podman.cmd().args([
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
            &name,
        ]));
        assert!(ip.starts_with("10.88.9."), "{ip}");
        let link =
            ok(podman
                .cmd()
                .args(["exec", &name, "/bin/busybox", "ip", "addr", "show", "wlan0"]));
        assert!(link.contains(&ip), "{link}");
        addrs.push(ip);
    }
    let status = daemon.guests();
    assert_eq!(status.matches("\"connected\"").count(), 2, "{status}");
    ok(podman.cmd().args([
        "exec",
        &podman.names[0],
        "/bin/busybox",
        "ping",
        "-c",
        "3",
        "-W",
        "3",
        &addrs[1],
    ]));

    // Removing the containers (CNI DEL) removes the stations.
    let names = podman.names.clone();
    ok(podman.cmd().args(["rm", "-f", "-t", "0"]).args(&names));
    podman.names.clear();
    wait_gone(&daemon, "netns:", Duration::from_secs(5));
    let _ = podman.cmd().args(["rmi", &image]).output();
}

/// A `dockerd` of the test's own (data root, exec root, socket in a temporary directory; no
/// bridge, no iptables); stopped when dropped.
struct Dockerd {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Dockerd {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("dockerd.log")).unwrap())
            .spawn()
            .expect("dockerd (docker.io)");
        let d = Self {
            child,
            socket,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !d
            .cmd()
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(Instant::now() < deadline, "dockerd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    /// The docker client of docker.io (not another one earlier in PATH) on this daemon.
    fn cmd(&self) -> Command {
        let client = if Path::new("/usr/bin/docker").exists() {
            "/usr/bin/docker"
        } else {
            "docker"
        };
        let mut c = Command::new(client);
        c.arg("-H").arg(format!("unix://{}", self.socket.display()));
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "-f", "vwt-da", "vwt-db"]).output();
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nsenter -t PID -n ARGS` from the host.
fn in_netns(pid: &str, args: &[&str]) -> Output {
    Command::new("nsenter")
        .args(["-t", pid, "-n"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs root, podman, docker"]
fn docker_containers_attached_by_pid_join_ping_and_lose_their_station_when_killed() {
    let daemon = Daemon::start();
    let dockerd = Dockerd::start();
    let dir = tempfile::tempdir().unwrap();
    ok_with_input(
        dockerd.cmd().args(["import", "-", "vwifi-bb:latest"]),
        &busybox_tar(dir.path()),
    );
    let guest = sibling("vwifi-guest");
    let guest = guest.to_str().unwrap();
    let mut pids = Vec::new();
    for (name, cidr) in [("vwt-da", "10.88.11.2/24"), ("vwt-db", "10.88.11.3/24")] {
        ok(dockerd.cmd().args([
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "none",
            "vwifi-bb",
            "/bin/busybox",
            "sleep",
            "600",
        ]));
        let pid = ok(dockerd
            .cmd()
            .args(["inspect", "-f", "{{.State.Pid}}", name]));
        let out = daemon.host(&["attach", "--pid", &pid]);
        assert!(out.status.success(), "attach: {}", text(&out));
        // One joins from the host with vwifi-host, the other from inside with vwifi-guest.
        if name == "vwt-da" {
            let joined = ok_with_input(
                Command::new(sibling("vwifi-host"))
                    .args(["join", "--pid", &pid, "vwifi-lab", "--passphrase-stdin"])
                    .arg("--socket")
                    .arg(&daemon.socket),
                format!("{LAB_PASSPHRASE}\n").as_bytes(),
            );
            assert!(joined.contains("joined vwifi-lab"), "{joined}");
        } else {
            let out = in_netns(
                &pid,
                &[
                    guest,
                    "--link",
                    "wlan0",
                    "connect",
                    "vwifi-lab",
                    "--passphrase",
                    LAB_PASSPHRASE,
                ],
            );
            assert!(out.status.success(), "connect: {}", text(&out));
        }
        let out = in_netns(&pid, &["ip", "addr", "add", cidr, "dev", "wlan0"]);
        assert!(out.status.success(), "ip addr: {}", text(&out));
        pids.push(pid);
    }
    ok(dockerd.cmd().args([
        "exec",
        "vwt-da",
        "/bin/busybox",
        "ping",
        "-c",
        "3",
        "-W",
        "3",
        "10.88.11.3",
    ]));

    // A killed container's station goes by itself.
    ok(dockerd.cmd().args(["kill", "vwt-da"]));
    let took = wait_gone(&daemon, &format!("/proc/{}/ns/net", pids[0]), GONE_WITHIN);
    eprintln!("docker kill: station gone after {took:?}");
    assert!(daemon
        .guests()
        .contains(&format!("/proc/{}/ns/net", pids[1])));
}
