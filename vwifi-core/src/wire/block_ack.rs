//! Block Ack action frames (IEEE 802.11-2020 9.6.4): ADDBA Request, ADDBA Response and DELBA,
//! the body of an Action management frame of category Block Ack (3).
//!
//! [`BlockAckAction::parse`] reads such a body (from the category octet on), panic-free, its
//! length checked; [`BlockAckAction::emit_body`] writes it back, so `parse(emit(x)) == x`.

use super::{ParseError, Reader};

/// The Action category of Block Ack frames (Table 9-51).
pub const CATEGORY_BLOCK_ACK: u8 = 3;

const ADDBA_REQUEST: u8 = 0;
const ADDBA_RESPONSE: u8 = 1;
const DELBA: u8 = 2;

/// The Block Ack Parameter Set (9.4.1.13): bit 0 A-MSDU supported, bit 1 Block Ack policy (1
/// immediate), bits 2-5 TID, bits 6-15 buffer size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BaParams(pub u16);

impl BaParams {
    /// Immediate Block Ack for `tid` with a buffer of `buffer` MPDUs (at most 1023).
    pub const fn immediate(tid: u8, buffer: u16) -> Self {
        Self(0x0002 | ((tid as u16 & 0x0f) << 2) | ((buffer & 0x03ff) << 6))
    }

    /// The same with the A-MSDU Supported bit (bit 0) set: A-MSDUs may go in the
    /// agreement's A-MPDUs (9.4.1.13).
    pub const fn with_amsdu(self) -> Self {
        Self(self.0 | 0x0001)
    }

    /// The A-MSDU Supported bit.
    pub const fn amsdu_supported(self) -> bool {
        self.0 & 0x0001 != 0
    }

    /// The TID.
    pub const fn tid(self) -> u8 {
        ((self.0 >> 2) & 0x0f) as u8
    }

    /// The buffer size (the Block Ack window), MPDUs.
    pub const fn buffer_size(self) -> u16 {
        self.0 >> 6
    }
}

/// A Block Ack action frame body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockAckAction {
    /// ADDBA Request (9.6.4.2): the originator asks for an agreement.
    AddbaRequest {
        /// Matches the response to the request.
        dialog_token: u8,
        /// TID, policy, buffer size.
        params: BaParams,
        /// The Block Ack timeout, TU (0: none).
        timeout_tu: u16,
        /// The starting sequence control.
        start_seq: u16,
    },
    /// ADDBA Response (9.6.4.3): the recipient accepts (status 0) or refuses.
    AddbaResponse {
        /// The request's token.
        dialog_token: u8,
        /// The status code (0: success).
        status: u16,
        /// TID, policy, buffer size.
        params: BaParams,
        /// The Block Ack timeout, TU.
        timeout_tu: u16,
    },
    /// DELBA (9.6.4.4): either side ends the agreement.
    Delba {
        /// DELBA Parameter Set: bit 11 initiator (the originator sends it), bits 12-15 TID.
        params: u16,
        /// The reason code.
        reason: u16,
    },
}

impl BlockAckAction {
    /// Reads an Action frame body: category Block Ack, then the action and its fields.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let category = r.u8("action category")?;
        if category != CATEGORY_BLOCK_ACK {
            return Err(ParseError::BadValue {
                what: "Block Ack action category",
                value: category.into(),
            });
        }
        let out = match r.u8("Block Ack action")? {
            ADDBA_REQUEST => Self::AddbaRequest {
                dialog_token: r.u8("dialog token")?,
                params: BaParams(r.u16_le("Block Ack parameter set")?),
                timeout_tu: r.u16_le("Block Ack timeout")?,
                start_seq: r.u16_le("Block Ack starting sequence control")?,
            },
            ADDBA_RESPONSE => Self::AddbaResponse {
                dialog_token: r.u8("dialog token")?,
                status: r.u16_le("ADDBA status code")?,
                params: BaParams(r.u16_le("Block Ack parameter set")?),
                timeout_tu: r.u16_le("Block Ack timeout")?,
            },
            DELBA => Self::Delba {
                params: r.u16_le("DELBA parameter set")?,
                reason: r.u16_le("DELBA reason code")?,
            },
            other => {
                return Err(ParseError::BadValue {
                    what: "Block Ack action",
                    value: other.into(),
                })
            }
        };
        r.finish("Block Ack action frame")?;
        Ok(out)
    }

    /// Appends the body (category, action, fields).
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.push(CATEGORY_BLOCK_ACK);
        match *self {
            Self::AddbaRequest {
                dialog_token,
                params,
                timeout_tu,
                start_seq,
            } => {
                out.extend_from_slice(&[ADDBA_REQUEST, dialog_token]);
                for v in [params.0, timeout_tu, start_seq] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            Self::AddbaResponse {
                dialog_token,
                status,
                params,
                timeout_tu,
            } => {
                out.extend_from_slice(&[ADDBA_RESPONSE, dialog_token]);
                for v in [status, params.0, timeout_tu] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            Self::Delba { params, reason } => {
                out.push(DELBA);
                for v in [params, reason] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }

    /// The body as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9);
        self.emit_body(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parameters_and_lengths() {
        let p = BaParams::immediate(0, 64);
        assert_eq!((p.tid(), p.buffer_size(), p.0 & 2), (0, 64, 2));
        let req = BlockAckAction::AddbaRequest {
            dialog_token: 1,
            params: p,
            timeout_tu: 0,
            start_seq: 0x10,
        };
        let body = req.to_vec();
        assert_eq!(body, [3, 0, 1, 0x02, 0x10, 0, 0, 0x10, 0]);
        assert!(BlockAckAction::parse(&body[..8]).is_err());
        let mut long = body.clone();
        long.push(0);
        assert!(BlockAckAction::parse(&long).is_err());
        assert!(BlockAckAction::parse(&[4, 0]).is_err());
        assert!(BlockAckAction::parse(&[3, 9]).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(kind in 0u8..3, token: u8, a: u16, b: u16, c: u16) {
            let x = match kind {
                0 => BlockAckAction::AddbaRequest { dialog_token: token, params: BaParams(a), timeout_tu: b, start_seq: c },
                1 => BlockAckAction::AddbaResponse { dialog_token: token, status: a, params: BaParams(b), timeout_tu: c },
                _ => BlockAckAction::Delba { params: a, reason: b },
            };
            prop_assert_eq!(BlockAckAction::parse(&x.to_vec()), Ok(x));
        }

        #[test]
        fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..16)) {
            if let Ok(x) = BlockAckAction::parse(&body) {
                prop_assert_eq!(x.to_vec(), body);
            }
        }
    }
}
