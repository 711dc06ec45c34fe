//! The plugin's one error type: a CNI error (code, message, details) as the runtime prints it.
//!
//! | code | meaning (CNI spec 1.0.0 section "Error", then ours from 100) |
//! |------|---------------------------------------------------------------|
//! | 1    | incompatible CNI version                                      |
//! | 4    | invalid necessary environment variables                       |
//! | 5    | I/O failure (the IPAM plugin, the namespace, netlink)         |
//! | 6    | failed to decode content                                      |
//! | 7    | invalid network configuration                                 |
//! | 11   | try again later (the daemon is not running)                   |
//! | 50   | STATUS: the plugin is not available (the daemon is not running) |
//! | 100  | the daemon refused the request (its message says why)         |
//! | 101  | network not found                                             |
//! | 102  | wrong passphrase                                              |
//! | 103  | the station could not join for another reason                 |

use serde::Serialize;

/// CNI error code: incompatible CNI version.
pub const INCOMPATIBLE_VERSION: u32 = 1;
/// CNI error code: invalid necessary environment variables.
pub const INVALID_ENV: u32 = 4;
/// CNI error code: I/O failure.
pub const IO_FAILURE: u32 = 5;
/// CNI error code: failed to decode content.
pub const DECODE: u32 = 6;
/// CNI error code: invalid network configuration.
pub const INVALID_CONFIG: u32 = 7;
/// CNI error code: try again later.
pub const TRY_AGAIN_LATER: u32 = 11;
/// CNI error code (STATUS): the plugin is not available.
pub const NOT_AVAILABLE: u32 = 50;
/// Ours: the daemon refused the request.
pub const DAEMON_REFUSED: u32 = 100;
/// Ours: no access point of the network answered.
pub const NETWORK_NOT_FOUND: u32 = 101;
/// Ours: the access point refused the key.
pub const WRONG_PASSPHRASE: u32 = 102;
/// Ours: the station could not join for another reason.
pub const JOIN_FAILED: u32 = 103;

/// A CNI error, printed on stdout as `{"cniVersion","code","msg","details"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{msg} (CNI error {code}{})", if details.is_empty() { String::new() } else { format!(": {details}") })]
pub struct CniError {
    /// The code (the table above).
    pub code: u32,
    /// What went wrong, for a person.
    pub msg: String,
    /// More about it (a cause chain), possibly empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub details: String,
}

impl CniError {
    /// An error with `code` and `msg`.
    pub fn new(code: u32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }

    /// The same error with `details`.
    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = details.into();
        self
    }

    /// The JSON the runtime reads on stdout.
    pub fn to_json(&self, cni_version: &str) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("cniVersion".into(), cni_version.into());
        }
        v.to_string()
    }
}

impl From<crate::config::ConfigError> for CniError {
    fn from(e: crate::config::ConfigError) -> Self {
        match e {
            crate::config::ConfigError::Json(_) => Self::new(DECODE, e.to_string()),
            crate::config::ConfigError::Invalid { .. } => Self::new(INVALID_CONFIG, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_the_json_the_spec_shows() {
        let e = CniError::new(WRONG_PASSPHRASE, "wrong passphrase").with_details("x");
        let v: serde_json::Value = serde_json::from_str(&e.to_json("1.0.0")).unwrap();
        assert_eq!(v["cniVersion"], "1.0.0");
        assert_eq!(v["code"], 102);
        assert_eq!(v["msg"], "wrong passphrase");
        assert_eq!(v["details"], "x");
        let plain = CniError::new(INVALID_ENV, "m").to_json("1.0.0");
        assert!(!plain.contains("details"), "{plain}");
    }
}
