//! Anti-clogging tokens (IEEE 802.11-2020 12.4.6): when too many SAE exchanges are open, an AP
//! answers a commit that carries no valid token with status 76 and a token that the station
//! must echo, so that flooding the AP with commits from forged addresses costs no curve work.

use subtle::ConstantTimeEq;

use super::frame::{Commit, TokenRequest};
use super::group::GROUP_19;
use super::machine::{AuthFrame, COMMIT};
use crate::addr::MacAddr;
use crate::crypto::kdf::hmac_sha256;
use crate::wire::codes::StatusCode;

/// The length of the tokens this AP issues.
pub const TOKEN_LEN: usize = 32;

/// An AP's anti-clogging policy: a secret (passed in: the core draws no randomness) and the
/// number of open exchanges from which tokens are required.
#[derive(Clone)]
pub struct AntiClogging {
    secret: [u8; 32],
    threshold: usize,
}

impl core::fmt::Debug for AntiClogging {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AntiClogging")
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl AntiClogging {
    /// Tokens keyed with `secret`, required once `threshold` exchanges are open
    /// (dot11RSNASAEAntiCloggingThreshold; hostapd's `sae_anti_clogging_threshold`, 5).
    pub fn new(secret: [u8; 32], threshold: usize) -> Self {
        Self { secret, threshold }
    }

    /// The token of `peer`: `HMAC-SHA-256(secret, peer)`.
    pub fn token(&self, peer: MacAddr) -> [u8; TOKEN_LEN] {
        hmac_sha256(&self.secret, &[&peer.0])
    }

    /// Checks a commit from `peer` while `open` exchanges are in progress. Returns the commit
    /// body to hand to the responder (the token stripped), or the status-76 reply to send.
    pub fn admit(
        &self,
        open: usize,
        peer: MacAddr,
        status: StatusCode,
        body: &[u8],
    ) -> Result<Vec<u8>, AuthFrame> {
        if open < self.threshold {
            return Ok(body.to_vec());
        }
        let h2e = status == StatusCode::SaeHashToElement;
        let expected = self.token(peer);
        let token_len = if h2e { 0 } else { TOKEN_LEN };
        if let Ok(mut commit) = Commit::parse(body, h2e, token_len) {
            let valid = commit
                .token
                .as_deref()
                .is_some_and(|t| bool::from(t.ct_eq(&expected[..])));
            if valid {
                commit.token = None;
                return Ok(commit.to_vec(h2e));
            }
        }
        Err(AuthFrame {
            transaction: COMMIT,
            status: StatusCode::AntiCloggingTokenRequired,
            body: TokenRequest {
                group: GROUP_19,
                token: expected.to_vec(),
            }
            .to_vec(h2e),
        })
    }
}
