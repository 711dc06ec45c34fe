//! Information elements (IEEE 802.11-2020 9.4.2): a panic-free iterator over raw elements and
//! the typed [`Element`] forms management frames carry.

use core::fmt;

use super::codes::ElementId;
use super::rsn::Rsne;
use super::tim::Tim;
use super::{ParseError, Reader};

/// A network name: 0..=32 octets, not necessarily UTF-8 (IEEE 802.11-2020 9.4.2.2).
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Ssid(Vec<u8>);

impl Ssid {
    /// The longest SSID, in octets.
    pub const MAX_LEN: usize = 32;

    /// An SSID of these octets, or [`ParseError::BadValue`] if longer than 32.
    pub fn new(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(ParseError::BadValue {
                what: "SSID length",
                value: bytes.len() as u64,
            });
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The octets of the SSID.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The length in octets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the SSID is empty (the wildcard SSID of a probe request, or a hidden network).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether this SSID hides the network name: empty or all zero octets.
    pub fn is_hidden(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }
}

impl TryFrom<&str> for Ssid {
    type Error = ParseError;

    fn try_from(s: &str) -> Result<Self, ParseError> {
        Self::new(s.as_bytes())
    }
}

impl fmt::Display for Ssid {
    /// The SSID as text, with non-printable and non-ASCII octets escaped as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Ssid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ssid(\"{self}\")")
    }
}

/// One octet of a Supported Rates element: a rate in units of 500 kb/s, bit 7 marking a basic
/// (mandatory) rate, or a BSS membership selector (IEEE 802.11-2020 9.4.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate(pub u8);

impl Rate {
    /// A rate of `units` × 500 kb/s (0..=127), basic or not.
    pub const fn new(units: u8, basic: bool) -> Self {
        Self((units & 0x7f) | if basic { 0x80 } else { 0 })
    }

    /// Whether bit 7 (basic rate, or BSS membership selector) is set.
    pub const fn is_basic(self) -> bool {
        self.0 & 0x80 != 0
    }

    /// The rate in units of 500 kb/s (or the selector value).
    pub const fn units(self) -> u8 {
        self.0 & 0x7f
    }

    /// The rate in kb/s.
    pub const fn kbps(self) -> u32 {
        self.units() as u32 * 500
    }

    /// Whether this octet is a BSS membership selector (HT 127, VHT 126, SAE H2E only 123,
    /// HE 122) rather than a rate.
    pub const fn is_membership_selector(self) -> bool {
        self.is_basic() && matches!(self.units(), 122 | 123 | 126 | 127)
    }
}

/// One element as it is on the wire: ID and body, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawElement<'a> {
    /// The element ID.
    pub id: ElementId,
    /// The body (without ID and length octets).
    pub data: &'a [u8],
}

/// An iterator over the elements of a frame body.
///
/// Yields `Err` once for an element whose header or body is cut short, then stops. Never
/// panics, whatever the input.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> Elements<'a> {
    /// The elements of `buf`, which holds zero or more whole elements.
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            reader: Reader::new(buf),
            failed: false,
        }
    }

    fn read(&mut self) -> Result<RawElement<'a>, ParseError> {
        let id = self.reader.u8("element ID")?;
        let len = self.reader.u8("element length")?;
        let data = self.reader.take(usize::from(len), "element body")?;
        Ok(RawElement {
            id: ElementId::from(id),
            data,
        })
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<RawElement<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.is_empty() {
            return None;
        }
        let item = self.read();
        self.failed = item.is_err();
        Some(item)
    }
}

/// One information element in typed form.
///
/// Elements without a typed form here (vendor specific included) are kept as
/// [`Element::Other`]; `Other` with an ID that has a typed variant is not canonical (parse never
/// produces it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Element {
    /// SSID (0).
    Ssid(Ssid),
    /// Supported Rates and BSS Membership Selectors (1).
    SupportedRates(Vec<Rate>),
    /// DSSS Parameter Set (3): the current channel.
    DsParameterSet {
        /// The current channel number.
        channel: u8,
    },
    /// Traffic Indication Map (5).
    Tim(Tim),
    /// RSN (48).
    Rsn(Rsne),
    /// Extended Supported Rates and BSS Membership Selectors (50).
    ExtendedSupportedRates(Vec<Rate>),
    /// HT Capabilities (45), body kept opaque.
    HtCapabilities(Vec<u8>),
    /// HT Operation (61), body kept opaque.
    HtOperation(Vec<u8>),
    /// VHT Capabilities (191), body kept opaque.
    VhtCapabilities(Vec<u8>),
    /// An element with Element ID Extension (255): the extension ID and the rest of the body.
    Extension {
        /// The Element ID Extension (first body octet).
        ext_id: u8,
        /// The body after the extension ID.
        data: Vec<u8>,
    },
    /// Any other element (vendor specific, unknown or not modelled), as ID and body.
    Other {
        /// The element ID.
        id: ElementId,
        /// The body.
        data: Vec<u8>,
    },
}

/// The largest element body.
pub const MAX_ELEMENT_BODY: usize = 255;

impl Element {
    /// The typed form of a raw element.
    pub fn parse(raw: RawElement<'_>) -> Result<Self, ParseError> {
        let data = raw.data;
        Ok(match raw.id {
            ElementId::Ssid => Self::Ssid(Ssid::new(data)?),
            ElementId::SupportedRates => Self::SupportedRates(rates(data)),
            ElementId::ExtendedSupportedRates => Self::ExtendedSupportedRates(rates(data)),
            ElementId::DsParameterSet => match data {
                [channel] => Self::DsParameterSet { channel: *channel },
                _ => {
                    return Err(ParseError::BadValue {
                        what: "DS Parameter Set length",
                        value: data.len() as u64,
                    })
                }
            },
            ElementId::Tim => Self::Tim(Tim::parse(data)?),
            ElementId::Rsn => Self::Rsn(Rsne::parse(data)?),
            ElementId::HtCapabilities => Self::HtCapabilities(data.to_vec()),
            ElementId::HtOperation => Self::HtOperation(data.to_vec()),
            ElementId::VhtCapabilities => Self::VhtCapabilities(data.to_vec()),
            ElementId::Extension => match data.split_first() {
                Some((&ext_id, rest)) => Self::Extension {
                    ext_id,
                    data: rest.to_vec(),
                },
                None => {
                    return Err(ParseError::Truncated {
                        what: "Element ID Extension",
                        need: 1,
                        have: 0,
                    })
                }
            },
            id => Self::Other {
                id,
                data: data.to_vec(),
            },
        })
    }

    /// The element ID.
    pub fn id(&self) -> ElementId {
        match self {
            Self::Ssid(_) => ElementId::Ssid,
            Self::SupportedRates(_) => ElementId::SupportedRates,
            Self::DsParameterSet { .. } => ElementId::DsParameterSet,
            Self::Tim(_) => ElementId::Tim,
            Self::Rsn(_) => ElementId::Rsn,
            Self::ExtendedSupportedRates(_) => ElementId::ExtendedSupportedRates,
            Self::HtCapabilities(_) => ElementId::HtCapabilities,
            Self::HtOperation(_) => ElementId::HtOperation,
            Self::VhtCapabilities(_) => ElementId::VhtCapabilities,
            Self::Extension { .. } => ElementId::Extension,
            Self::Other { id, .. } => *id,
        }
    }

    /// For a vendor specific element, its OUI (first three body octets).
    pub fn vendor_oui(&self) -> Option<[u8; 3]> {
        match self {
            Self::Other {
                id: ElementId::VendorSpecific,
                data,
            } => data.get(..3)?.try_into().ok(),
            _ => None,
        }
    }

    fn emit_body(&self, out: &mut Vec<u8>) {
        match self {
            Self::Ssid(ssid) => out.extend_from_slice(ssid.as_bytes()),
            Self::SupportedRates(r) | Self::ExtendedSupportedRates(r) => {
                out.extend(r.iter().map(|r| r.0));
            }
            Self::DsParameterSet { channel } => out.push(*channel),
            Self::Tim(tim) => tim.emit_body(out),
            Self::Rsn(rsne) => rsne.emit_body(out),
            Self::HtCapabilities(d) | Self::HtOperation(d) | Self::VhtCapabilities(d) => {
                out.extend_from_slice(d);
            }
            Self::Extension { ext_id, data } => {
                out.push(*ext_id);
                out.extend_from_slice(data);
            }
            Self::Other { data, .. } => out.extend_from_slice(data),
        }
    }

    /// The number of bytes [`Element::emit`] writes (header included).
    pub fn buffer_len(&self) -> usize {
        let mut body = Vec::new();
        self.emit_body(&mut body);
        2 + body.len().min(MAX_ELEMENT_BODY)
    }

    /// Appends the element (ID, length, body) to `out`. A body longer than 255 octets, which
    /// no valid element has, is cut to 255.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(self.id().into());
        out.push(0);
        self.emit_body(out);
        let body_len = out.len() - start - 2;
        let len = body_len.min(MAX_ELEMENT_BODY);
        out.truncate(start + 2 + len);
        if let Some(len_octet) = out.get_mut(start + 1) {
            // len <= 255 by the min above.
            *len_octet = len as u8;
        }
    }
}

fn rates(data: &[u8]) -> Vec<Rate> {
    data.iter().copied().map(Rate).collect()
}

/// The elements of a management frame body, in wire order. Emit reproduces parsed bytes
/// exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ElementList(pub Vec<Element>);

impl ElementList {
    /// An empty list.
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// Parses every element of `buf`; a cut-short or malformed element is an error.
    pub fn parse(buf: &[u8]) -> Result<Self, ParseError> {
        Elements::new(buf)
            .map(|raw| raw.and_then(Element::parse))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// The number of bytes [`ElementList::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.0.iter().map(Element::buffer_len).sum()
    }

    /// Appends every element to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        for element in &self.0 {
            element.emit(out);
        }
    }

    /// Appends an element.
    pub fn push(&mut self, element: Element) {
        self.0.push(element);
    }

    /// The elements in order.
    pub fn iter(&self) -> core::slice::Iter<'_, Element> {
        self.0.iter()
    }

    /// The first element with this ID.
    pub fn get(&self, id: ElementId) -> Option<&Element> {
        self.0.iter().find(|e| e.id() == id)
    }

    /// The SSID, if present.
    pub fn ssid(&self) -> Option<&Ssid> {
        self.0.iter().find_map(|e| match e {
            Element::Ssid(s) => Some(s),
            _ => None,
        })
    }

    /// The channel of the DS Parameter Set, if present.
    pub fn channel(&self) -> Option<u8> {
        self.0.iter().find_map(|e| match e {
            Element::DsParameterSet { channel } => Some(*channel),
            _ => None,
        })
    }

    /// The TIM, if present.
    pub fn tim(&self) -> Option<&Tim> {
        self.0.iter().find_map(|e| match e {
            Element::Tim(t) => Some(t),
            _ => None,
        })
    }

    /// The RSN element, if present.
    pub fn rsn(&self) -> Option<&Rsne> {
        self.0.iter().find_map(|e| match e {
            Element::Rsn(r) => Some(r),
            _ => None,
        })
    }

    /// The rates of the Supported Rates and Extended Supported Rates elements, in order.
    pub fn rates(&self) -> impl Iterator<Item = Rate> + '_ {
        self.0
            .iter()
            .filter_map(|e| match e {
                Element::SupportedRates(r) | Element::ExtendedSupportedRates(r) => Some(r),
                _ => None,
            })
            .flatten()
            .copied()
    }

    /// The vendor specific elements with this OUI, as bodies after the OUI.
    pub fn vendor(&self, oui: [u8; 3]) -> impl Iterator<Item = &[u8]> + '_ {
        self.0.iter().filter_map(move |e| match e {
            Element::Other {
                id: ElementId::VendorSpecific,
                data,
            } if data.get(..3) == Some(&oui[..]) => data.get(3..),
            _ => None,
        })
    }
}

impl From<Vec<Element>> for ElementList {
    fn from(v: Vec<Element>) -> Self {
        Self(v)
    }
}

impl<'a> IntoIterator for &'a ElementList {
    type Item = &'a Element;
    type IntoIter = core::slice::Iter<'a, Element>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterator_reports_truncated_element_then_stops() {
        // SSID "ab", then a Supported Rates element claiming 4 octets but holding 2.
        let buf = [0, 2, b'a', b'b', 1, 4, 0x82, 0x84];
        let mut it = Elements::new(&buf);
        let first = it.next().unwrap().unwrap();
        assert_eq!((first.id, first.data), (ElementId::Ssid, &b"ab"[..]));
        assert_eq!(
            it.next(),
            Some(Err(ParseError::Truncated {
                what: "element body",
                need: 4,
                have: 2
            }))
        );
        assert_eq!(it.next(), None);
        // A lone ID octet is a truncated length.
        let mut it = Elements::new(&[7]);
        assert!(matches!(
            it.next(),
            Some(Err(ParseError::Truncated {
                what: "element length",
                ..
            }))
        ));
    }

    #[test]
    fn typed_elements_check_their_lengths() {
        let long_ssid = [b'x'; 33];
        let raw = RawElement {
            id: ElementId::Ssid,
            data: &long_ssid,
        };
        assert_eq!(
            Element::parse(raw),
            Err(ParseError::BadValue {
                what: "SSID length",
                value: 33
            })
        );
        let raw = RawElement {
            id: ElementId::DsParameterSet,
            data: &[1, 2],
        };
        assert!(Element::parse(raw).is_err());
        let raw = RawElement {
            id: ElementId::Extension,
            data: &[],
        };
        assert!(Element::parse(raw).is_err());
    }

    #[test]
    fn list_keeps_vendor_and_extension_elements() {
        let buf = [
            0, 0, // wildcard SSID
            1, 2, 0x82, 0x0c, // rates 1 (basic), 6 Mb/s
            221, 5, 0x00, 0x50, 0xf2, 0x02, 0x01, // WMM-ish vendor element
            255, 2, 35, 0xaa, // extension 35 (HE capabilities), one octet
            3, 1, 6, // channel 6
        ];
        let list = ElementList::parse(&buf).unwrap();
        assert_eq!(list.ssid().map(Ssid::is_empty), Some(true));
        assert_eq!(list.channel(), Some(6));
        assert_eq!(
            list.rates().collect::<Vec<_>>(),
            vec![Rate::new(2, true), Rate::new(12, false)]
        );
        assert_eq!(
            list.vendor([0x00, 0x50, 0xf2]).collect::<Vec<_>>(),
            vec![&[0x02, 0x01][..]]
        );
        assert_eq!(
            list.0.get(3),
            Some(&Element::Extension {
                ext_id: 35,
                data: vec![0xaa]
            })
        );
        let mut out = Vec::new();
        list.emit(&mut out);
        assert_eq!(out, buf);
        assert_eq!(list.buffer_len(), buf.len());
    }

    #[test]
    fn oversized_element_is_cut_not_panicking() {
        let e = Element::Other {
            id: ElementId::Unknown(200),
            data: vec![0; 300],
        };
        let mut out = Vec::new();
        e.emit(&mut out);
        assert_eq!(out.len(), 257);
        assert_eq!(out.get(1), Some(&255));
        assert_eq!(e.buffer_len(), 257);
    }

    #[test]
    fn ssid_display_escapes_binary() {
        let s = Ssid::new(b"caf\xc3\xa9 1").unwrap();
        assert_eq!(s.to_string(), "caf\\xc3\\xa9 1");
        assert!(Ssid::new(&[0, 0, 0]).unwrap().is_hidden());
        assert!(Ssid::try_from("x".repeat(33).as_str()).is_err());
    }

    #[test]
    fn rate_bits() {
        let r = Rate(0x96);
        assert!(r.is_basic());
        assert_eq!(r.kbps(), 11_000);
        assert!(Rate(0xff).is_membership_selector());
        assert!(!Rate(0x7f).is_membership_selector());
    }
}
