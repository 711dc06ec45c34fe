//! The SAE credential: the password, its optional identifier, and the hash-to-element password
//! token derived from them once per SSID.

use core::fmt;

use zeroize::Zeroizing;

use super::error::SaeError;
use super::group::{pwe_hunting_and_pecking, Pt, Pwe};
use crate::addr::MacAddr;

/// An SAE password (any length, any bytes: SAE has no 8..63 rule) with its identifier and,
/// once [`SaePassword::with_h2e`] ran, its PT. `Debug` shows neither password nor PT.
#[derive(Clone)]
pub struct SaePassword {
    password: Zeroizing<Vec<u8>>,
    identifier: Option<Vec<u8>>,
    pt: Option<Pt>,
}

impl fmt::Debug for SaePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaePassword")
            .field("password", &"<redacted>")
            .field("identifier", &self.identifier.is_some())
            .field("h2e", &self.pt.is_some())
            .finish()
    }
}

impl PartialEq for SaePassword {
    /// Same password (compared in constant time) and identifier; the PT follows from them.
    fn eq(&self, other: &Self) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            &self.password[..],
            &other.password[..],
        )) && self.identifier == other.identifier
    }
}

impl Eq for SaePassword {}

impl SaePassword {
    /// A password without identifier and without PT (hunting and pecking only).
    pub fn new(password: &[u8]) -> Self {
        Self {
            password: Zeroizing::new(password.to_vec()),
            identifier: None,
            pt: None,
        }
    }

    /// Sets the password identifier (sent in the clear in commits, 12.4.3).
    pub fn with_identifier(mut self, identifier: &[u8]) -> Self {
        self.identifier = Some(identifier.to_vec());
        self.pt = None;
        self
    }

    /// Derives the PT for `ssid`, enabling hash-to-element.
    pub fn with_h2e(mut self, ssid: &[u8]) -> Self {
        self.pt = Some(Pt::derive(ssid, &self.password, self.identifier.as_deref()));
        self
    }

    /// Whether a PT is held (hash-to-element is possible).
    pub fn has_pt(&self) -> bool {
        self.pt.is_some()
    }

    /// The identifier, if any.
    pub fn identifier(&self) -> Option<Vec<u8>> {
        self.identifier.clone()
    }

    /// The PWE for the two addresses, by hash-to-element (`h2e`) or hunting and pecking.
    pub fn pwe(&self, h2e: bool, a: MacAddr, b: MacAddr) -> Result<Pwe, SaeError> {
        if h2e {
            let pt = self.pt.as_ref().ok_or(SaeError::PweMethodMismatch {
                status: u16::from(crate::wire::codes::StatusCode::SaeHashToElement),
            })?;
            Ok(pt.pwe(a, b))
        } else {
            pwe_hunting_and_pecking(a, b, &self.password, self.identifier.as_deref())
                .ok_or(SaeError::NoPasswordElement)
        }
    }
}
