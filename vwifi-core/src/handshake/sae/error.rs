//! The error of the SAE layer and the status codes it answers with.

use crate::wire::codes::StatusCode;

/// Why an SAE frame was rejected or an SAE exchange failed. No variant carries key material or
/// password bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaeError {
    // -- malformed --
    /// The frame body is too short or its fields do not add up.
    #[error("malformed SAE {what}: {reason}")]
    Malformed {
        /// The frame ("commit", "confirm", "anti-clogging request").
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A commit's scalar is not in 2..r (12.4.5.4).
    #[error("SAE commit scalar out of range")]
    InvalidScalar,
    /// A commit's element is not a point of the curve (or is the identity).
    #[error("SAE commit element is not on the curve")]
    InvalidElement,

    // -- peer misbehaved or disagrees --
    /// The peer asked for a finite cyclic group other than 19.
    #[error("SAE group {group} is not supported (only group 19)")]
    UnsupportedGroup {
        /// The group the peer named.
        group: u16,
    },
    /// The peer committed to our own scalar and element (a reflection attack, 12.4.5.4).
    #[error("SAE commit reflects our own commit")]
    Reflection,
    /// The peer's confirm does not verify: it holds another password (or altered the exchange).
    #[error("SAE confirm mismatch (wrong password?)")]
    ConfirmMismatch,
    /// A frame arrived in a state that does not expect it.
    #[error("unexpected SAE {what} in state {state}")]
    UnexpectedFrame {
        /// The frame.
        what: &'static str,
        /// The state of the exchange.
        state: &'static str,
    },
    /// The peer asks for hash-to-element (status 126) and it is not enabled here, or the
    /// reverse.
    #[error("SAE password element method mismatch (status {status})")]
    PweMethodMismatch {
        /// The status code of the peer's commit.
        status: u16,
    },
    /// The peer answered with a failure status.
    #[error("SAE rejected by the peer with status {status}")]
    Rejected {
        /// The status code of its reply.
        status: u16,
    },
    /// The peer refused our confirm (hostapd answers a confirm that does not verify with
    /// status 1 or 15): it holds another password.
    #[error("SAE confirm refused by the peer with status {status} (wrong password?)")]
    ConfirmRejected {
        /// The status code of its reply.
        status: u16,
    },
    /// The peer's commit carries no anti-clogging token, or a wrong one, while this responder
    /// requires one; answer with status 76 and a token.
    #[error("SAE anti-clogging token required")]
    TokenRequired,

    // -- local --
    /// No hunting-and-pecking round found a password element (probability about 2^-40).
    #[error("no SAE password element found")]
    NoPasswordElement,
    /// The shared secret is the identity: the peer's commit is degenerate.
    #[error("SAE shared secret is the identity")]
    DegenerateSecret,
    /// The peer did not complete the exchange after all retransmissions: with a confirm
    /// outstanding, most likely a wrong password.
    #[error("SAE timed out waiting for the peer's {what}")]
    Timeout {
        /// The frame waited for ("commit", "confirm").
        what: &'static str,
    },
}

impl SaeError {
    /// The status code to answer a peer's frame with, `None` if the frame is to be dropped
    /// silently (12.4.8.6: frames that fail verification are discarded).
    pub fn status_code(&self) -> Option<StatusCode> {
        match self {
            Self::Malformed { .. } | Self::InvalidScalar | Self::InvalidElement => {
                Some(StatusCode::UnspecifiedFailure)
            }
            Self::UnsupportedGroup { .. } => Some(StatusCode::FiniteCyclicGroupNotSupported),
            Self::Reflection | Self::DegenerateSecret => Some(StatusCode::UnspecifiedFailure),
            Self::ConfirmMismatch => Some(StatusCode::ChallengeFailure),
            Self::TokenRequired => Some(StatusCode::AntiCloggingTokenRequired),
            Self::PweMethodMismatch { .. } => Some(StatusCode::UnspecifiedFailure),
            Self::UnexpectedFrame { .. }
            | Self::Rejected { .. }
            | Self::ConfirmRejected { .. }
            | Self::NoPasswordElement
            | Self::Timeout { .. } => None,
        }
    }

    /// Whether the failure most likely means the two sides hold different passwords: the
    /// peer's confirm did not verify, the peer refused ours, or never answered it.
    pub fn is_wrong_password(&self) -> bool {
        matches!(
            self,
            Self::ConfirmMismatch
                | Self::ConfirmRejected { .. }
                | Self::Timeout { what: "confirm" }
        )
    }
}
