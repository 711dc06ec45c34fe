//! The daemons' own messages beside the frames: a periodic ping that says "I am here" and
//! measures the latency to each peer, and its pong.
//!
//! One line of ASCII, at most [`MAX_LEN`] bytes, fields separated by one space:
//! - `VWFH1 ping <node> <instance> <nonce> <sent_us>`
//! - `VWFH1 pong <node> <instance> <to> <nonce> <sent_us>`
//! - `VWFH1 bye <node> <instance>` (a daemon stopping: its nodes leave the air at once)
//!
//! `<node>` and `<to>` are node names ([`valid_origin`]); `<instance>` is 16 lowercase hex digits drawn
//! when the daemon starts (two daemons claiming one name tell themselves apart by it);
//! `<nonce>` and `<sent_us>` are decimal `u64`s without
//! leading zeros (one encoding per message). `<sent_us>` is the pinger's own clock,
//! echoed back untouched: clocks are never compared across daemons.

use vwifi_core::sim::federated::valid_origin;

/// The longest message.
pub(crate) const MAX_LEN: usize = 256;

/// A daemon's ping or a peer's answer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hello {
    /// `node` is alive; answer with a [`Hello::Pong`].
    Ping {
        /// The sender.
        node: String,
        /// The sender's instance.
        instance: u64,
        /// Echoed in the answer.
        nonce: u64,
        /// The sender's clock, echoed in the answer.
        sent_us: u64,
    },
    /// `node`'s answer to `to`'s ping.
    Pong {
        /// The answering daemon.
        node: String,
        /// Its instance.
        instance: u64,
        /// The daemon that pinged.
        to: String,
        /// The ping's nonce.
        nonce: u64,
        /// The ping's clock value.
        sent_us: u64,
    },
    /// `node` is stopping.
    Bye {
        /// The sender.
        node: String,
        /// Its instance.
        instance: u64,
    },
}

/// Why bytes are not a [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HelloError {
    /// Longer than [`MAX_LEN`], or not ASCII.
    #[error("not a federation hello (too long or not ASCII)")]
    Shape,
    /// Not `VWFH1 ping|pong ...` with the right number of fields.
    #[error("not a federation hello (unknown kind or wrong field count)")]
    Kind,
    /// A field that does not parse.
    #[error("invalid {0} in a federation hello")]
    Field(&'static str),
}

impl Hello {
    /// The sender's node name.
    pub(crate) fn node(&self) -> &str {
        match self {
            Self::Ping { node, .. } | Self::Pong { node, .. } | Self::Bye { node, .. } => node,
        }
    }

    /// The sender's instance.
    pub(crate) fn instance(&self) -> u64 {
        match self {
            Self::Ping { instance, .. }
            | Self::Pong { instance, .. }
            | Self::Bye { instance, .. } => *instance,
        }
    }

    /// The encoding.
    pub(crate) fn to_line(&self) -> String {
        match self {
            Self::Ping {
                node,
                instance,
                nonce,
                sent_us,
            } => format!("VWFH1 ping {node} {instance:016x} {nonce} {sent_us}"),
            Self::Pong {
                node,
                instance,
                to,
                nonce,
                sent_us,
            } => format!("VWFH1 pong {node} {instance:016x} {to} {nonce} {sent_us}"),
            Self::Bye { node, instance } => format!("VWFH1 bye {node} {instance:016x}"),
        }
    }

    /// Parses one message; never panics.
    pub(crate) fn parse(data: &[u8]) -> Result<Self, HelloError> {
        if data.len() > MAX_LEN || !data.is_ascii() {
            return Err(HelloError::Shape);
        }
        let text = core::str::from_utf8(data).map_err(|_| HelloError::Shape)?;
        let fields: Vec<&str> = text.split(' ').collect();
        let name = |s: &str, what| {
            if valid_origin(s) {
                Ok(s.to_owned())
            } else {
                Err(HelloError::Field(what))
            }
        };
        let instance = |s: &str| {
            if s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                u64::from_str_radix(s, 16).map_err(|_| HelloError::Field("instance"))
            } else {
                Err(HelloError::Field("instance"))
            }
        };
        let number = |s: &str, what| {
            let canonical = s == "0" || !s.starts_with('0');
            if !s.is_empty() && canonical && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u64>().map_err(|_| HelloError::Field(what))
            } else {
                Err(HelloError::Field(what))
            }
        };
        match fields.as_slice() {
            ["VWFH1", "ping", node, inst, nonce, sent] => Ok(Self::Ping {
                node: name(node, "node")?,
                instance: instance(inst)?,
                nonce: number(nonce, "nonce")?,
                sent_us: number(sent, "time")?,
            }),
            ["VWFH1", "pong", node, inst, to, nonce, sent] => Ok(Self::Pong {
                node: name(node, "node")?,
                instance: instance(inst)?,
                to: name(to, "to")?,
                nonce: number(nonce, "nonce")?,
                sent_us: number(sent, "time")?,
            }),
            ["VWFH1", "bye", node, inst] => Ok(Self::Bye {
                node: name(node, "node")?,
                instance: instance(inst)?,
            }),
            _ => Err(HelloError::Kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_and_pongs_survive_the_round_trip() {
        let ping = Hello::Ping {
            node: "host-a".into(),
            instance: 0xdead_beef,
            nonce: 3,
            sent_us: 1_000_000,
        };
        let pong = Hello::Pong {
            node: "host-b".into(),
            instance: u64::MAX,
            to: "host-a".into(),
            nonce: 3,
            sent_us: 1_000_000,
        };
        let bye = Hello::Bye {
            node: "host-c".into(),
            instance: 7,
        };
        for h in [ping, pong, bye] {
            assert_eq!(Hello::parse(h.to_line().as_bytes()), Ok(h));
        }
    }

    #[test]
    fn malformed_hellos_are_refused() {
        for bad in [
            &b""[..],
            b"VWFH1 ping a",
            b"VWFH1 ping a 0000000000000001 1 2 3",
            b"VWFH1 ping a/b 0000000000000001 1 2",
            b"VWFH1 ping a 1 1 2",
            b"VWFH1 ping a 0000000000000001 -1 2",
            b"VWFH1 ping a 0000000000000001 1 99999999999999999999",
            b"VWFH1 ping a 0000000000000001 01 2",
            b"VWFH1 ping a 000000000000000A 1 2",
            b"VWFH2 ping a 0000000000000001 1 2",
            b"VWFH1 bye a 0000000000000001 1",
            b"VWFH1  ping a 0000000000000001 1 2",
            &[0xff; 10],
            &[b'a'; 300],
        ] {
            assert!(
                Hello::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
