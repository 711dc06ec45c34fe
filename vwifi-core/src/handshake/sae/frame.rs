//! SAE frames: the algorithm-specific part of Authentication frames with algorithm 3
//! (IEEE 802.11-2020 9.3.3.11, Table 9-41): commit (transaction 1), confirm (transaction 2) and
//! the anti-clogging token request (a commit reply with status 76). Parsing never panics.

use super::error::SaeError;
use super::group::{ELEMENT_LEN, PRIME_LEN};

/// Element ID Extension: Password Identifier (9.4.2.216).
pub const EXT_PASSWORD_IDENTIFIER: u8 = 33;
/// Element ID Extension: Rejected Groups (9.4.2.245).
pub const EXT_REJECTED_GROUPS: u8 = 92;
/// Element ID Extension: Anti-Clogging Token Container (9.4.2.246).
pub const EXT_ANTI_CLOGGING_TOKEN: u8 = 93;
/// The Element ID Extension element ID.
const ELEMENT_ID_EXTENSION: u8 = 255;
/// The longest anti-clogging token accepted (hostapd sends 32 bytes; tokens are opaque).
pub const MAX_TOKEN_LEN: usize = 128;

/// An SAE commit (the body after algorithm, transaction and status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The finite cyclic group.
    pub group: u16,
    /// The anti-clogging token echoed back to a responder that asked for one.
    pub token: Option<Vec<u8>>,
    /// The commit scalar, big-endian.
    pub scalar: [u8; PRIME_LEN],
    /// The commit element, `x || y`.
    pub element: [u8; ELEMENT_LEN],
    /// The password identifier, if the password has one.
    pub password_id: Option<Vec<u8>>,
    /// The groups the sender tried and the peer rejected (hash-to-element only).
    pub rejected_groups: Vec<u16>,
}

impl Commit {
    /// Parses a commit body. `h2e` says whether the frame's status is 126 (hash-to-element:
    /// the token, if any, travels in an Anti-Clogging Token Container element);
    /// `token_len` is the length of the raw token a hunting-and-pecking responder expects
    /// after the group (0 if it did not ask for one).
    pub fn parse(body: &[u8], h2e: bool, token_len: usize) -> Result<Self, SaeError> {
        let bad = |reason| SaeError::Malformed {
            what: "commit",
            reason,
        };
        let (group, rest) = split_u16(body).ok_or(bad("no group"))?;
        if group != super::group::GROUP_19 {
            return Err(SaeError::UnsupportedGroup { group });
        }
        let (token, rest) = if h2e || token_len == 0 {
            (None, rest)
        } else {
            let (t, r) = split(rest, token_len).ok_or(bad("short anti-clogging token"))?;
            (Some(t.to_vec()), r)
        };
        let (scalar, rest) = split(rest, PRIME_LEN).ok_or(bad("short scalar"))?;
        let (element, rest) = split(rest, ELEMENT_LEN).ok_or(bad("short element"))?;
        let mut commit = Self {
            group,
            token,
            scalar: scalar.try_into().map_err(|_| bad("short scalar"))?,
            element: element.try_into().map_err(|_| bad("short element"))?,
            password_id: None,
            rejected_groups: Vec::new(),
        };
        for (ext, data) in ext_elements(rest).map_err(bad)? {
            match ext {
                EXT_PASSWORD_IDENTIFIER => commit.password_id = Some(data.to_vec()),
                EXT_REJECTED_GROUPS if h2e => {
                    if data.len() % 2 != 0 {
                        return Err(bad("odd rejected groups length"));
                    }
                    commit.rejected_groups = data
                        .chunks_exact(2)
                        .filter_map(|c| c.try_into().ok())
                        .map(u16::from_le_bytes)
                        .collect();
                }
                EXT_ANTI_CLOGGING_TOKEN if h2e => {
                    if data.len() > MAX_TOKEN_LEN {
                        return Err(bad("anti-clogging token too long"));
                    }
                    commit.token = Some(data.to_vec());
                }
                _ => return Err(bad("unexpected element")),
            }
        }
        Ok(commit)
    }

    /// Emits the body; with `h2e` a token goes into an Anti-Clogging Token Container element.
    pub fn to_vec(&self, h2e: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + PRIME_LEN + ELEMENT_LEN + 16);
        out.extend_from_slice(&self.group.to_le_bytes());
        if let (Some(token), false) = (&self.token, h2e) {
            out.extend_from_slice(token);
        }
        out.extend_from_slice(&self.scalar);
        out.extend_from_slice(&self.element);
        if let Some(id) = &self.password_id {
            push_ext(&mut out, EXT_PASSWORD_IDENTIFIER, id);
        }
        if h2e && !self.rejected_groups.is_empty() {
            let groups: Vec<u8> = self
                .rejected_groups
                .iter()
                .flat_map(|g| g.to_le_bytes())
                .collect();
            push_ext(&mut out, EXT_REJECTED_GROUPS, &groups);
        }
        if let (Some(token), true) = (&self.token, h2e) {
            push_ext(&mut out, EXT_ANTI_CLOGGING_TOKEN, token);
        }
        out
    }
}

/// An SAE confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirm {
    /// The send-confirm counter.
    pub send_confirm: u16,
    /// The confirm value (HMAC-SHA-256 with the KCK).
    pub confirm: [u8; 32],
}

impl Confirm {
    /// Parses a confirm body: exactly send-confirm and the 32-byte confirm.
    pub fn parse(body: &[u8]) -> Result<Self, SaeError> {
        let bad = |reason| SaeError::Malformed {
            what: "confirm",
            reason,
        };
        let (send_confirm, rest) = split_u16(body).ok_or(bad("no send-confirm"))?;
        let confirm: [u8; 32] = rest
            .try_into()
            .map_err(|_| bad("confirm is not 32 bytes"))?;
        Ok(Self {
            send_confirm,
            confirm,
        })
    }

    /// Emits the body.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(34);
        out.extend_from_slice(&self.send_confirm.to_le_bytes());
        out.extend_from_slice(&self.confirm);
        out
    }
}

/// The body of a commit reply with status 76: the group and the token the responder wants
/// echoed (raw for hunting-and-pecking, in a container element for hash-to-element).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The group of the commit that was refused.
    pub group: u16,
    /// The anti-clogging token.
    pub token: Vec<u8>,
}

impl TokenRequest {
    /// Parses the body of a status-76 reply.
    pub fn parse(body: &[u8], h2e: bool) -> Result<Self, SaeError> {
        let bad = |reason| SaeError::Malformed {
            what: "anti-clogging request",
            reason,
        };
        let (group, rest) = split_u16(body).ok_or(bad("no group"))?;
        let token = if h2e {
            match ext_elements(rest).map_err(bad)?.as_slice() {
                [(EXT_ANTI_CLOGGING_TOKEN, t)] => t.to_vec(),
                _ => return Err(bad("no token container")),
            }
        } else {
            rest.to_vec()
        };
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(bad("token length"));
        }
        Ok(Self { group, token })
    }

    /// Emits the body.
    pub fn to_vec(&self, h2e: bool) -> Vec<u8> {
        let mut out = self.group.to_le_bytes().to_vec();
        if h2e {
            push_ext(&mut out, EXT_ANTI_CLOGGING_TOKEN, &self.token);
        } else {
            out.extend_from_slice(&self.token);
        }
        out
    }
}

fn split(b: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (b.len() >= n).then(|| b.split_at(n))
}

fn split_u16(b: &[u8]) -> Option<(u16, &[u8])> {
    let (v, rest) = split(b, 2)?;
    Some((u16::from_le_bytes([*v.first()?, *v.get(1)?]), rest))
}

/// Splits trailing bytes into Element ID Extension elements: (extension ID, data).
fn ext_elements(mut b: &[u8]) -> Result<Vec<(u8, &[u8])>, &'static str> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (Some(&id), Some(&len), Some(&ext)) = (b.first(), b.get(1), b.get(2)) else {
            return Err("truncated element");
        };
        let rest = b.get(3..).unwrap_or_default();
        if id != ELEMENT_ID_EXTENSION || len == 0 {
            return Err("unexpected element");
        }
        let data_len = usize::from(len) - 1;
        let (data, next) = split(rest, data_len).ok_or("truncated element")?;
        out.push((ext, data));
        b = next;
    }
    Ok(out)
}

fn push_ext(out: &mut Vec<u8>, ext: u8, data: &[u8]) {
    // Tokens and identifiers are bounded well below 254 bytes by their producers.
    let len = u8::try_from(data.len() + 1).unwrap_or(u8::MAX);
    out.extend_from_slice(&[ELEMENT_ID_EXTENSION, len, ext]);
    out.extend_from_slice(data.get(..usize::from(len) - 1).unwrap_or(data));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit() -> Commit {
        Commit {
            group: 19,
            token: None,
            scalar: [1; 32],
            element: [2; 64],
            password_id: None,
            rejected_groups: Vec::new(),
        }
    }

    #[test]
    fn commit_round_trips_in_both_modes_with_token_and_identifier() {
        let mut c = commit();
        assert_eq!(Commit::parse(&c.to_vec(false), false, 0).unwrap(), c);
        c.token = Some(vec![9; 32]);
        c.password_id = Some(b"psk4internet".to_vec());
        assert_eq!(Commit::parse(&c.to_vec(false), false, 32).unwrap(), c);
        c.rejected_groups = vec![20, 21];
        assert_eq!(Commit::parse(&c.to_vec(true), true, 0).unwrap(), c);
    }

    #[test]
    fn commit_with_other_group_or_short_fields_is_rejected() {
        let mut body = commit().to_vec(false);
        body[0] = 20;
        assert_eq!(
            Commit::parse(&body, false, 0),
            Err(SaeError::UnsupportedGroup { group: 20 })
        );
        let body = commit().to_vec(false);
        for len in 0..body.len() {
            assert!(Commit::parse(&body[..len], false, 0).is_err(), "len {len}");
        }
        let mut trailing = body.clone();
        trailing.push(0);
        assert!(Commit::parse(&trailing, false, 0).is_err());
        // A raw token where none was asked for does not parse as elements.
        assert!(Commit::parse(&body, false, 5).is_err());
    }

    #[test]
    fn confirm_is_exactly_34_bytes() {
        let c = Confirm {
            send_confirm: 1,
            confirm: [7; 32],
        };
        assert_eq!(Confirm::parse(&c.to_vec()).unwrap(), c);
        assert!(Confirm::parse(&c.to_vec()[..33]).is_err());
        assert!(Confirm::parse(&[c.to_vec(), vec![0]].concat()).is_err());
    }

    #[test]
    fn token_request_round_trips() {
        let t = TokenRequest {
            group: 19,
            token: vec![5; 32],
        };
        for h2e in [false, true] {
            assert_eq!(TokenRequest::parse(&t.to_vec(h2e), h2e).unwrap(), t);
        }
        assert!(TokenRequest::parse(&[19, 0], false).is_err());
    }
}
