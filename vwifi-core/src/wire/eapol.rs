//! EAPOL frames (IEEE 802.1X-2004 clause 7) and EAPOL-Key frames (IEEE 802.11-2020 12.7.2):
//! the messages of the 4-way and group-key handshakes, and the KDEs of their key data.
//!
//! All multi-octet EAPOL fields are big-endian.

use core::fmt;
use core::ops::Range;

use zeroize::Zeroizing;

use super::{ParseError, Reader};

/// The EAPOL protocol version of IEEE 802.1X-2001.
pub const VERSION_2001: u8 = 1;
/// The EAPOL protocol version of IEEE 802.1X-2004, which vwifi sends.
pub const VERSION_2004: u8 = 2;
/// The EAPOL packet type of an EAPOL-Key frame.
pub const PACKET_TYPE_KEY: u8 = 3;
/// The EAPOL-Key descriptor type of IEEE 802.11 (RSN).
pub const DESCRIPTOR_TYPE_RSN: u8 = 2;
/// The length of the 802.1X header: version, packet type, body length.
pub const HEADER_LEN: usize = 4;
/// The length of an EAPOL-Key frame without key data, from the start of the 802.1X header
/// (for a 16-byte MIC).
pub const KEY_FRAME_MIN_LEN: usize = 99;
/// The byte range of the MIC field in an EAPOL-Key frame, from the start of the 802.1X
/// header: header 4, descriptor type 1, key information 2, key length 2, replay counter 8,
/// nonce 32, IV 16, RSC 8, reserved 8.
pub const MIC_RANGE: Range<usize> = 81..97;

/// The IEEE 802.1X-2004 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EapolHeader {
    /// Protocol version (1 or 2; 3 for 802.1X-2010).
    pub version: u8,
    /// Packet type (0 EAP, 1 Start, 2 Logoff, 3 Key, ...).
    pub packet_type: u8,
    /// The length of the body that follows the header.
    pub body_len: u16,
}

impl EapolHeader {
    /// Parses the header from the start of `buf` (bytes after it are left alone).
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(buf);
        Ok(Self {
            version: r.u8("EAPOL protocol version")?,
            packet_type: r.u8("EAPOL packet type")?,
            body_len: r.u16_be("EAPOL body length")?,
        })
    }

    /// Appends the header to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.version);
        out.push(self.packet_type);
        out.extend_from_slice(&self.body_len.to_be_bytes());
    }
}

/// The Key Information field of an EAPOL-Key frame (IEEE 802.11-2020 Figure 12-33).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyInfo(pub u16);

impl KeyInfo {
    /// Key descriptor version mask (bits 0-2); 2 is HMAC-SHA1-128 MIC with AES key wrap.
    pub const VERSION_MASK: u16 = 0x0007;
    /// Key descriptor version 2: HMAC-SHA1-128 and AES key wrap (AKM 00-0F-AC:2, CCMP).
    pub const VERSION_HMAC_SHA1_AES: u16 = 0x0002;
    /// Key Type: 1 for the pairwise (4-way) handshake, 0 for the group key handshake.
    pub const PAIRWISE: u16 = 0x0008;
    /// Install: the supplicant installs the pairwise key (message 3).
    pub const INSTALL: u16 = 0x0040;
    /// Key Ack: set by the authenticator when it expects a reply.
    pub const ACK: u16 = 0x0080;
    /// Key MIC: the frame carries a MIC.
    pub const MIC: u16 = 0x0100;
    /// Secure: the keys are in place (messages 3, 4 and the group key handshake).
    pub const SECURE: u16 = 0x0200;
    /// Error: a supplicant's MIC failure report.
    pub const ERROR: u16 = 0x0400;
    /// Request: the supplicant asks for a handshake.
    pub const REQUEST: u16 = 0x0800;
    /// Encrypted Key Data: the key data is AES key wrapped.
    pub const ENCRYPTED_KEY_DATA: u16 = 0x1000;

    /// The key descriptor version (bits 0-2).
    pub const fn descriptor_version(self) -> u8 {
        (self.0 & Self::VERSION_MASK) as u8
    }

    /// Whether every bit of `flags` is set.
    pub const fn has(self, flags: u16) -> bool {
        self.0 & flags == flags
    }

    /// The flag bits (everything but the descriptor version), to compare message shapes.
    pub const fn flags(self) -> u16 {
        self.0 & !Self::VERSION_MASK
    }
}

impl fmt::Debug for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::PAIRWISE, "pairwise"),
            (Self::INSTALL, "install"),
            (Self::ACK, "ack"),
            (Self::MIC, "mic"),
            (Self::SECURE, "secure"),
            (Self::ERROR, "error"),
            (Self::REQUEST, "request"),
            (Self::ENCRYPTED_KEY_DATA, "encrypted"),
        ];
        write!(f, "KeyInfo({:#06x}: v{}", self.0, self.descriptor_version())?;
        for (bit, name) in names {
            if self.has(bit) {
                write!(f, " {name}")?;
            }
        }
        f.write_str(")")
    }
}

/// An EAPOL-Key frame with its 802.1X header: the parsed form (`Repr`).
///
/// Only the RSN descriptor type with a 16-byte MIC (AKMs 00-0F-AC:1/2) is supported.
/// The key data is kept as raw bytes (it may be encrypted); see [`parse_key_data`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFrame {
    /// The EAPOL protocol version of the header.
    pub version: u8,
    /// Key Information.
    pub key_info: KeyInfo,
    /// Key Length: the length of the pairwise cipher's key (16 for CCMP), 0 in messages 2, 4.
    pub key_length: u16,
    /// Key Replay Counter.
    pub replay_counter: u64,
    /// Key Nonce (ANonce in messages 1 and 3, SNonce in message 2).
    pub nonce: [u8; 32],
    /// EAPOL-Key IV (zero with key descriptor version 2).
    pub iv: [u8; 16],
    /// Key RSC: the receive sequence counter of the GTK (little-endian PN), in message 3 and
    /// group message 1.
    pub rsc: [u8; 8],
    /// Reserved (the Key ID field of WPA1); must be sent as zero, kept as received.
    pub reserved: [u8; 8],
    /// Key MIC.
    pub mic: [u8; 16],
    /// Key Data, raw (AES key wrapped when `key_info` has `ENCRYPTED_KEY_DATA`).
    pub key_data: Vec<u8>,
}

impl KeyFrame {
    /// Parses a whole EAPOL-Key frame, from the 802.1X header to the end of the key data;
    /// `buf` must hold exactly the header's body length.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        let header = EapolHeader::parse(buf)?;
        if header.packet_type != PACKET_TYPE_KEY {
            return Err(ParseError::BadValue {
                what: "EAPOL packet type",
                value: header.packet_type.into(),
            });
        }
        let mut outer = Reader::new(buf);
        outer.take(HEADER_LEN, "EAPOL header")?;
        let mut r = outer.sub(usize::from(header.body_len), "EAPOL body")?;
        outer.finish("EAPOL frame")?;
        let descriptor = r.u8("EAPOL-Key descriptor type")?;
        if descriptor != DESCRIPTOR_TYPE_RSN {
            return Err(ParseError::BadValue {
                what: "EAPOL-Key descriptor type",
                value: descriptor.into(),
            });
        }
        let key_info = KeyInfo(r.u16_be("EAPOL-Key key information")?);
        let key_length = r.u16_be("EAPOL-Key key length")?;
        let replay_counter = r.u64_be("EAPOL-Key replay counter")?;
        let nonce = r.array("EAPOL-Key nonce")?;
        let iv = r.array("EAPOL-Key IV")?;
        let rsc = r.array("EAPOL-Key RSC")?;
        let reserved = r.array("EAPOL-Key reserved")?;
        let mic = r.array("EAPOL-Key MIC")?;
        let data_len = r.u16_be("EAPOL-Key key data length")?;
        let key_data = r
            .take(usize::from(data_len), "EAPOL-Key key data")?
            .to_vec();
        r.finish("EAPOL-Key body")?;
        Ok(Self {
            version: header.version,
            key_info,
            key_length,
            replay_counter,
            nonce,
            iv,
            rsc,
            reserved,
            mic,
            key_data,
        })
    }

    /// The length of the emitted frame.
    pub fn buffer_len(&self) -> usize {
        KEY_FRAME_MIN_LEN + self.key_data.len()
    }

    /// Appends the frame, header included, to `out`. Lengths are computed from `key_data`
    /// (which must be shorter than 65437 bytes; longer key data is truncated).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let max_data = usize::from(u16::MAX) - (KEY_FRAME_MIN_LEN - HEADER_LEN);
        let data = self.key_data.get(..max_data).unwrap_or(&self.key_data);
        let data_len = u16::try_from(data.len()).unwrap_or(u16::MAX);
        EapolHeader {
            version: self.version,
            packet_type: PACKET_TYPE_KEY,
            body_len: data_len.saturating_add((KEY_FRAME_MIN_LEN - HEADER_LEN) as u16),
        }
        .emit(out);
        out.push(DESCRIPTOR_TYPE_RSN);
        out.extend_from_slice(&self.key_info.0.to_be_bytes());
        out.extend_from_slice(&self.key_length.to_be_bytes());
        out.extend_from_slice(&self.replay_counter.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.iv);
        out.extend_from_slice(&self.rsc);
        out.extend_from_slice(&self.reserved);
        out.extend_from_slice(&self.mic);
        out.extend_from_slice(&data_len.to_be_bytes());
        out.extend_from_slice(data);
    }

    /// The emitted frame as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buffer_len());
        self.emit(&mut out);
        out
    }

    /// The Key RSC as a packet number (the RSC is little-endian; CCMP uses 48 bits).
    pub fn rsc_pn(&self) -> u64 {
        u64::from_le_bytes(self.rsc)
    }
}

/// The OUI of IEEE 802.11 KDEs and suites: 00-0F-AC.
pub const OUI_IEEE80211: [u8; 3] = [0x00, 0x0f, 0xac];
/// The KDE data type of the GTK KDE.
pub const KDE_TYPE_GTK: u8 = 1;
/// The element ID of the RSNE.
pub const ELEMENT_ID_RSN: u8 = 48;
/// The element ID that KDEs use (vendor specific).
pub const ELEMENT_ID_KDE: u8 = 0xdd;

/// A GTK KDE (IEEE 802.11-2020 Figure 12-35): key ID, Tx bit and the GTK. The key is zeroized
/// on drop and redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct GtkKde {
    /// The key ID, 0 to 3 (1 to 3 in practice).
    pub key_id: u8,
    /// The Tx bit: the authenticator transmits with this key too.
    pub tx: bool,
    /// The GTK bytes (16 for CCMP).
    pub gtk: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for GtkKde {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GtkKde")
            .field("key_id", &self.key_id)
            .field("tx", &self.tx)
            .field("gtk", &format_args!("<redacted {} bytes>", self.gtk.len()))
            .finish()
    }
}

/// One item of EAPOL-Key key data (IEEE 802.11-2020 12.7.2, Table 12-9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDataItem {
    /// An RSNE, kept whole (ID and length octets included) for byte-exact comparison.
    Rsne(Vec<u8>),
    /// A GTK KDE.
    Gtk(GtkKde),
    /// Another KDE (00-0F-AC or vendor OUI), kept as is.
    Kde {
        /// The OUI.
        oui: [u8; 3],
        /// The data type.
        data_type: u8,
        /// The data after the data type octet.
        data: Vec<u8>,
    },
    /// Another element, kept as is.
    Element {
        /// The element ID.
        id: u8,
        /// The element body.
        data: Vec<u8>,
    },
}

/// Parses decrypted (or plaintext) key data into its items. Trailing padding (0xdd followed
/// by zero octets) ends the list.
pub fn parse_key_data(buf: &[u8]) -> Result<Vec<KeyDataItem>, ParseError> {
    let mut items = Vec::new();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let rest = r.peek_rest();
        if rest.first() == Some(&ELEMENT_ID_KDE) && rest.iter().skip(1).all(|&b| b == 0) {
            break; // padding
        }
        let id = r.u8("key data element ID")?;
        let len = r.u8("key data element length")?;
        let mut body = r.sub(usize::from(len), "key data element")?;
        let item = match id {
            ELEMENT_ID_RSN => {
                let mut whole = vec![id, len];
                whole.extend_from_slice(body.rest());
                KeyDataItem::Rsne(whole)
            }
            ELEMENT_ID_KDE => {
                let oui = body.array::<3>("KDE OUI")?;
                let data_type = body.u8("KDE data type")?;
                if oui == OUI_IEEE80211 && data_type == KDE_TYPE_GTK {
                    let flags = body.u8("GTK KDE key ID")?;
                    body.u8("GTK KDE reserved")?;
                    let gtk = Zeroizing::new(body.rest().to_vec());
                    if gtk.is_empty() {
                        return Err(ParseError::Truncated {
                            what: "GTK KDE GTK",
                            need: 1,
                            have: 0,
                        });
                    }
                    KeyDataItem::Gtk(GtkKde {
                        key_id: flags & 0x03,
                        tx: flags & 0x04 != 0,
                        gtk,
                    })
                } else {
                    KeyDataItem::Kde {
                        oui,
                        data_type,
                        data: body.rest().to_vec(),
                    }
                }
            }
            _ => KeyDataItem::Element {
                id,
                data: body.rest().to_vec(),
            },
        };
        items.push(item);
    }
    Ok(items)
}

/// Appends key data items to `out` (no padding; see [`pad_key_data`]). Items longer than an
/// element allows (255 bytes of body) are truncated.
pub fn emit_key_data(items: &[KeyDataItem], out: &mut Vec<u8>) {
    let mut element = |id: u8, parts: &[&[u8]]| {
        let mut body: Vec<u8> = parts.concat();
        body.truncate(255);
        out.push(id);
        out.push(u8::try_from(body.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(&body);
    };
    for item in items {
        match item {
            KeyDataItem::Rsne(whole) => {
                element(ELEMENT_ID_RSN, &[whole.get(2..).unwrap_or(&[])]);
            }
            KeyDataItem::Gtk(g) => {
                let flags = (g.key_id & 0x03) | if g.tx { 0x04 } else { 0 };
                let mut head = [0u8; 6];
                head[..3].copy_from_slice(&OUI_IEEE80211);
                head[3] = KDE_TYPE_GTK;
                head[4] = flags;
                element(ELEMENT_ID_KDE, &[&head, &g.gtk]);
            }
            KeyDataItem::Kde {
                oui,
                data_type,
                data,
            } => {
                element(ELEMENT_ID_KDE, &[oui, &[*data_type], data]);
            }
            KeyDataItem::Element { id, data } => element(*id, &[data]),
        }
    }
}

/// Pads key data for AES key wrap (IEEE 802.11-2020 12.7.2, item j): to at least 16 bytes and
/// a multiple of 8, with 0xdd followed by zero octets.
pub fn pad_key_data(data: &mut Vec<u8>) {
    if data.len() >= 16 && data.len() % 8 == 0 {
        return;
    }
    data.push(ELEMENT_ID_KDE);
    while data.len() < 16 || data.len() % 8 != 0 {
        data.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Message 1 of 4 from iwd `unit/test-eapol.c` (`eapol_key_data_7`): a real frame.
    const IWD_MSG1: &str = "0203005f02008a00100000000000000001\
        2b5852b88e4ca34dc599ed202c63957c535e3efa92898734 11127cbaf3588425"; // nonce
    fn iwd_msg1() -> Vec<u8> {
        let mut v = hex::decode(IWD_MSG1.split_whitespace().collect::<String>()).unwrap();
        v.resize(99, 0);
        v
    }

    #[test]
    fn parses_a_real_message_1() {
        let f = KeyFrame::parse(&iwd_msg1()).unwrap();
        assert_eq!(f.version, VERSION_2004);
        assert_eq!(f.key_info.descriptor_version(), 2);
        assert!(f.key_info.has(KeyInfo::PAIRWISE | KeyInfo::ACK));
        assert!(!f.key_info.has(KeyInfo::MIC));
        assert_eq!(f.key_length, 16);
        assert_eq!(f.replay_counter, 1);
        assert_eq!(f.nonce[0], 0x2b);
        assert!(f.key_data.is_empty());
        assert_eq!(f.to_vec(), iwd_msg1());
    }

    #[test]
    fn errors_name_the_field() {
        let frame = iwd_msg1();
        assert_eq!(
            KeyFrame::parse(&frame[..50]),
            Err(ParseError::Truncated {
                what: "EAPOL body",
                need: 95,
                have: 46
            })
        );
        let mut bad = frame.clone();
        bad[4] = 254;
        assert_eq!(
            KeyFrame::parse(&bad),
            Err(ParseError::BadValue {
                what: "EAPOL-Key descriptor type",
                value: 254
            })
        );
        let mut bad = frame.clone();
        bad[1] = 0;
        assert!(matches!(
            KeyFrame::parse(&bad),
            Err(ParseError::BadValue {
                what: "EAPOL packet type",
                ..
            })
        ));
        let mut long = frame.clone();
        long.push(0);
        assert_eq!(
            KeyFrame::parse(&long),
            Err(ParseError::TrailingData {
                what: "EAPOL frame",
                len: 1
            })
        );
        // Key data length larger than the body.
        let mut bad = frame;
        bad[98] = 5;
        assert!(matches!(
            KeyFrame::parse(&bad),
            Err(ParseError::Truncated {
                what: "EAPOL-Key key data",
                ..
            })
        ));
    }

    #[test]
    fn key_data_items_round_trip_with_padding() {
        let rsne = vec![
            48, 20, 1, 0, 0, 0x0f, 0xac, 4, 1, 0, 0, 0x0f, 0xac, 4, 1, 0, 0, 0x0f, 0xac, 2, 0, 0,
        ];
        let items = vec![
            KeyDataItem::Rsne(rsne),
            KeyDataItem::Gtk(GtkKde {
                key_id: 1,
                tx: false,
                gtk: Zeroizing::new(vec![0x77; 16]),
            }),
        ];
        let mut data = Vec::new();
        emit_key_data(&items, &mut data);
        assert_eq!(data.len(), 22 + 24);
        assert_eq!(&data[22..28], &[0xdd, 22, 0x00, 0x0f, 0xac, 1]);
        pad_key_data(&mut data);
        assert_eq!(data.len(), 48);
        assert_eq!(&data[46..], &[0xdd, 0]);
        assert_eq!(parse_key_data(&data).unwrap(), items);
        let shown = format!("{items:?}");
        assert!(!shown.contains("119"), "GTK bytes leaked: {shown}");
    }

    #[test]
    fn padding_shapes() {
        let mut d = vec![];
        pad_key_data(&mut d);
        assert_eq!(d, [&[0xdd][..], &[0; 15]].concat());
        let mut d = vec![1; 16];
        pad_key_data(&mut d);
        assert_eq!(d.len(), 16);
        let mut d = vec![48, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        pad_key_data(&mut d);
        assert_eq!(d.len(), 24);
    }

    #[test]
    fn truncated_key_data_elements_are_errors() {
        assert!(matches!(
            parse_key_data(&[48, 10, 1]),
            Err(ParseError::Truncated {
                what: "key data element",
                ..
            })
        ));
        assert!(matches!(
            parse_key_data(&[0xdd, 2, 0x00]),
            Err(ParseError::Truncated { .. })
        ));
        assert!(matches!(
            parse_key_data(&[0xdd, 6, 0x00, 0x0f, 0xac, 1, 1, 0]),
            Err(ParseError::Truncated {
                what: "GTK KDE GTK",
                ..
            })
        ));
        assert_eq!(parse_key_data(&[0xdd]).unwrap(), vec![]);
    }

    fn arb_frame() -> impl Strategy<Value = KeyFrame> {
        (
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<[u8; 16]>(),
            any::<[u8; 8]>(),
            any::<[u8; 8]>(),
            any::<[u8; 16]>(),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(
                |(
                    version,
                    ki,
                    key_length,
                    replay_counter,
                    nonce,
                    iv,
                    rsc,
                    reserved,
                    mic,
                    key_data,
                )| {
                    KeyFrame {
                        version,
                        key_info: KeyInfo(ki),
                        key_length,
                        replay_counter,
                        nonce,
                        iv,
                        rsc,
                        reserved,
                        mic,
                        key_data,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn key_frame_parse_emit_round_trip(f in arb_frame()) {
            let bytes = f.to_vec();
            prop_assert_eq!(bytes.len(), f.buffer_len());
            prop_assert_eq!(KeyFrame::parse(&bytes).unwrap(), f);
        }

        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = KeyFrame::parse(&bytes);
            let _ = parse_key_data(&bytes);
            let _ = EapolHeader::parse(&bytes);
        }

        #[test]
        fn key_data_round_trip(ids in proptest::collection::vec((1u8..=3, any::<bool>(), proptest::collection::vec(any::<u8>(), 1..40)), 0..4)) {
            let items: Vec<KeyDataItem> = ids.into_iter().map(|(key_id, tx, gtk)| KeyDataItem::Gtk(GtkKde { key_id, tx, gtk: Zeroizing::new(gtk) })).collect();
            let mut data = Vec::new();
            emit_key_data(&items, &mut data);
            pad_key_data(&mut data);
            prop_assert_eq!(parse_key_data(&data).unwrap(), items);
        }
    }
}
