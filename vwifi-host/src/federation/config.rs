//! The `[federation]` table of the daemon's configuration.

use core::time::Duration;

use serde::Deserialize;
use vwifi_core::sim::federated::valid_origin;

use super::FederationError;

/// `[federation]`: join other daemons in one simulated air.
///
/// ```toml
/// [federation]
/// node = "host-a"                        # this daemon's name on the air: unique
/// air = "lab"                            # daemons with the same air name share one air
/// listen = ["tcp/0.0.0.0:7447"]          # Zenoh endpoints this daemon accepts peers on
/// connect = ["tcp/192.0.2.2:7447"]       # Zenoh endpoints of peers it connects to
/// queue = 4096                           # frames waiting each way; more are dropped, counted
/// peer_timeout_ms = 3000                 # a peer silent this long is gone: its nodes vanish
/// position = [40.0, 0.0]                 # where this daemon's guests' stations stand
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FederationSection {
    /// This daemon's name on the air (letters, digits, `-`, `_`, `.`; at most 64 bytes).
    pub(crate) node: String,
    /// The air's name: only daemons with the same name share frames.
    #[serde(default = "default_air")]
    pub(crate) air: String,
    /// Endpoints to accept peers on (`tcp/<address>:<port>`).
    #[serde(default)]
    pub(crate) listen: Vec<String>,
    /// Endpoints of peers to connect to (`tcp/<address>:<port>`); retried until they answer.
    #[serde(default)]
    pub(crate) connect: Vec<String>,
    /// Frames waiting to be published, and received frames waiting for the simulation.
    #[serde(default = "default_queue")]
    pub(crate) queue: usize,
    /// How long a silent peer is still counted as present, in milliseconds.
    #[serde(default = "default_peer_timeout_ms")]
    pub(crate) peer_timeout_ms: u64,
    /// Where this daemon's own radio (its guests' stations) stands on the shared air, in
    /// metres; default the host radio's usual spot. Positions are global across the air.
    #[serde(default)]
    pub(crate) position: Option<[f64; 2]>,
}

fn default_air() -> String {
    "default".into()
}

fn default_queue() -> usize {
    4096
}

fn default_peer_timeout_ms() -> u64 {
    3000
}

impl FederationSection {
    /// Checks the names, endpoints and sizes.
    pub(crate) fn validate(&self) -> Result<(), FederationError> {
        if !valid_origin(&self.node) {
            return Err(FederationError::Name {
                what: "node",
                name: self.node.clone(),
            });
        }
        if !valid_origin(&self.air) {
            return Err(FederationError::Name {
                what: "air",
                name: self.air.clone(),
            });
        }
        if self.listen.is_empty() && self.connect.is_empty() {
            return Err(FederationError::NoEndpoints);
        }
        for e in self.listen.iter().chain(&self.connect) {
            check_endpoint(e)?;
        }
        if self.queue == 0 || self.queue > 1 << 20 {
            return Err(FederationError::Queue(self.queue));
        }
        if !(100..=600_000).contains(&self.peer_timeout_ms) {
            return Err(FederationError::PeerTimeout(self.peer_timeout_ms));
        }
        if self
            .position
            .is_some_and(|p| !p.iter().all(|v| v.is_finite() && v.abs() <= 1e6))
        {
            return Err(FederationError::Position);
        }
        Ok(())
    }

    /// [`FederationSection::peer_timeout_ms`] as a duration.
    pub(crate) fn peer_timeout(&self) -> Duration {
        Duration::from_millis(self.peer_timeout_ms)
    }
}

/// `tcp/<host>:<port>` with a port that parses.
fn check_endpoint(e: &str) -> Result<(), FederationError> {
    let bad = |reason: &'static str| FederationError::Endpoint {
        endpoint: e.to_owned(),
        reason,
    };
    let rest = e
        .strip_prefix("tcp/")
        .ok_or(bad("only tcp/<address>:<port> endpoints are supported"))?;
    let (host, port) = rest.rsplit_once(':').ok_or(bad("no :<port>"))?;
    if host.is_empty() {
        return Err(bad("no address"));
    }
    port.parse::<u16>()
        .map_err(|_| bad("the port is not a number from 0 to 65535"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FederationSection, String> {
        let s: FederationSection = toml::from_str(text).map_err(|e| e.to_string())?;
        s.validate().map_err(|e| e.to_string())?;
        Ok(s)
    }

    #[test]
    fn a_minimal_section_gets_defaults() {
        let s = parse("node = \"a\"\nconnect = [\"tcp/10.0.0.1:7447\"]").unwrap();
        assert_eq!(s.air, "default");
        assert_eq!(s.queue, 4096);
        assert_eq!(s.peer_timeout(), Duration::from_secs(3));
        assert_eq!(s.position, None);
    }

    #[test]
    fn bad_names_endpoints_and_sizes_are_refused_with_what_is_wrong() {
        let cases = [
            (
                "node = \"a b\"\nlisten = [\"tcp/0.0.0.0:1\"]",
                "federation.node",
            ),
            (
                "node = \"a\"\nair = \"x/y\"\nlisten = [\"tcp/0.0.0.0:1\"]",
                "federation.air",
            ),
            ("node = \"a\"", "listen or connect"),
            ("node = \"a\"\nlisten = [\"udp/0.0.0.0:1\"]", "only tcp"),
            ("node = \"a\"\nlisten = [\"tcp/0.0.0.0:x\"]", "port"),
            ("node = \"a\"\nlisten = [\"tcp/:1\"]", "no address"),
            ("node = \"a\"\nlisten = [\"tcp/h:1\"]\nqueue = 0", "queue"),
            (
                "node = \"a\"\nlisten = [\"tcp/h:1\"]\npeer_timeout_ms = 1",
                "peer_timeout_ms",
            ),
            (
                "node = \"a\"\nlisten = [\"tcp/h:1\"]\nbogus = 1",
                "unknown field",
            ),
        ];
        for (text, why) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
