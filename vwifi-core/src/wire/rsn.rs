//! The RSN element (IEEE 802.11-2020 9.4.2.24): the security policy of a WPA2/WPA3 network.

use super::codes::{AkmSuite, CipherSuite};
use super::{ParseError, Reader};

/// The RSN Capabilities field (IEEE 802.11-2020 9.4.2.24.4), kept as its raw value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RsnCapabilities(pub u16);

impl RsnCapabilities {
    /// Bit 0: preauthentication supported.
    pub const PREAUTH: u16 = 1 << 0;
    /// Bit 1: no pairwise (WEP default key 0 with pairwise keys).
    pub const NO_PAIRWISE: u16 = 1 << 1;
    /// Bit 6: management frame protection required.
    pub const MFPR: u16 = 1 << 6;
    /// Bit 7: management frame protection capable.
    pub const MFPC: u16 = 1 << 7;
    /// Bit 13: extended key ID for individually addressed frames.
    pub const EXTENDED_KEY_ID: u16 = 1 << 13;
    /// Bit 14: operating channel validation capable.
    pub const OCVC: u16 = 1 << 14;

    /// Whether management frame protection is required.
    pub const fn mfp_required(self) -> bool {
        self.0 & Self::MFPR != 0
    }

    /// Whether management frame protection is supported.
    pub const fn mfp_capable(self) -> bool {
        self.0 & Self::MFPC != 0
    }

    /// The PTKSA Replay Counter subfield (bits 2-3): 2^n replay counters.
    pub const fn ptksa_replay_counter(self) -> u8 {
        ((self.0 >> 2) & 0x03) as u8
    }

    /// The GTKSA Replay Counter subfield (bits 4-5): 2^n replay counters.
    pub const fn gtksa_replay_counter(self) -> u8 {
        ((self.0 >> 4) & 0x03) as u8
    }
}

/// The body of an RSN element.
///
/// Every field after the version is optional on the wire, but only from the end: a field is
/// present only if all fields before it are. The options here record exactly which fields were
/// present, so that parse and emit round-trip; [`Rsne::emit_body`] stops at the first `None`.
/// An empty list (`Some(vec![])`) is a count of 0 on the wire, not an absent field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rsne {
    /// The version; 1 in every standard to date (kept, not checked).
    pub version: u16,
    /// The group data cipher suite.
    pub group_cipher: Option<CipherSuite>,
    /// The pairwise cipher suites.
    pub pairwise_ciphers: Option<Vec<CipherSuite>>,
    /// The AKM suites.
    pub akm_suites: Option<Vec<AkmSuite>>,
    /// The RSN capabilities.
    pub capabilities: Option<RsnCapabilities>,
    /// The PMKIDs.
    pub pmkids: Option<Vec<[u8; 16]>>,
    /// The group management cipher suite.
    pub group_mgmt_cipher: Option<CipherSuite>,
}

impl Rsne {
    /// The RSN version every standard to date uses.
    pub const VERSION: u16 = 1;

    /// An RSNE with one group cipher, pairwise ciphers, AKMs and capabilities (no PMKIDs).
    pub fn new(
        group_cipher: CipherSuite,
        pairwise_ciphers: Vec<CipherSuite>,
        akm_suites: Vec<AkmSuite>,
        capabilities: RsnCapabilities,
    ) -> Self {
        Self {
            version: Self::VERSION,
            group_cipher: Some(group_cipher),
            pairwise_ciphers: Some(pairwise_ciphers),
            akm_suites: Some(akm_suites),
            capabilities: Some(capabilities),
            pmkids: None,
            group_mgmt_cipher: None,
        }
    }

    /// The RSNE of a WPA2-Personal network: CCMP-128 group and pairwise, PSK.
    pub fn wpa2_psk() -> Self {
        Self::new(
            CipherSuite::Ccmp128,
            vec![CipherSuite::Ccmp128],
            vec![AkmSuite::Psk],
            RsnCapabilities::default(),
        )
    }

    /// Parses the element body; trailing bytes after the last field are an error.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let mut rsne = Self {
            version: r.u16_le("RSNE version")?,
            group_cipher: None,
            pairwise_ciphers: None,
            akm_suites: None,
            capabilities: None,
            pmkids: None,
            group_mgmt_cipher: None,
        };
        if r.is_empty() {
            return Ok(rsne);
        }
        rsne.group_cipher = Some(CipherSuite::from_bytes(r.array("RSNE group cipher")?));
        if r.is_empty() {
            return Ok(rsne);
        }
        rsne.pairwise_ciphers = Some(read_list(&mut r, "RSNE pairwise cipher", |b| {
            CipherSuite::from_bytes(b)
        })?);
        if r.is_empty() {
            return Ok(rsne);
        }
        rsne.akm_suites = Some(read_list(&mut r, "RSNE AKM suite", AkmSuite::from_bytes)?);
        if r.is_empty() {
            return Ok(rsne);
        }
        rsne.capabilities = Some(RsnCapabilities(r.u16_le("RSNE capabilities")?));
        if r.is_empty() {
            return Ok(rsne);
        }
        rsne.pmkids = Some(read_list(&mut r, "RSNE PMKID", |b: [u8; 16]| b)?);
        if r.is_empty() {
            return Ok(rsne);
        }
        rsne.group_mgmt_cipher = Some(CipherSuite::from_bytes(
            r.array("RSNE group management cipher")?,
        ));
        r.finish("RSN element")?;
        Ok(rsne)
    }

    /// The length of the element body [`Rsne::emit_body`] writes.
    pub fn body_len(&self) -> usize {
        let mut out = Vec::new();
        self.emit_body(&mut out);
        out.len()
    }

    /// Appends the element body to `out`, up to the first absent field. Lists longer than
    /// 65535 entries are cut to 65535.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_le_bytes());
        let Some(group) = self.group_cipher else {
            return;
        };
        out.extend_from_slice(&group.to_bytes());
        let Some(pairwise) = &self.pairwise_ciphers else {
            return;
        };
        write_list(out, pairwise, |c| c.to_bytes());
        let Some(akms) = &self.akm_suites else {
            return;
        };
        write_list(out, akms, |a| a.to_bytes());
        let Some(caps) = self.capabilities else {
            return;
        };
        out.extend_from_slice(&caps.0.to_le_bytes());
        let Some(pmkids) = &self.pmkids else {
            return;
        };
        write_list(out, pmkids, |p| *p);
        if let Some(mgmt) = self.group_mgmt_cipher {
            out.extend_from_slice(&mgmt.to_bytes());
        }
    }
}

/// Reads a little-endian 16-bit count and that many `N`-octet items.
fn read_list<T, const N: usize>(
    r: &mut Reader<'_>,
    what: &'static str,
    f: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>, ParseError> {
    let count = r.u16_le(what)?;
    let mut items = r.sub(usize::from(count) * N, what)?;
    let mut out = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        out.push(f(items.array(what)?));
    }
    Ok(out)
}

fn write_list<T, const N: usize>(out: &mut Vec<u8>, items: &[T], f: impl Fn(&T) -> [u8; N]) {
    let count = u16::try_from(items.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for item in items.iter().take(usize::from(count)) {
        out.extend_from_slice(&f(item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WPA2-PSK CCMP RSNE body as hostapd sends it (IEEE 802.11-2020 9.4.2.24.1 layout).
    const WPA2_PSK: [u8; 20] = [
        0x01, 0x00, // version 1
        0x00, 0x0f, 0xac, 0x04, // group CCMP
        0x01, 0x00, 0x00, 0x0f, 0xac, 0x04, // 1 pairwise: CCMP
        0x01, 0x00, 0x00, 0x0f, 0xac, 0x02, // 1 AKM: PSK
        0x00, 0x00, // capabilities
    ];

    #[test]
    fn parses_wpa2_psk_rsne() {
        let rsne = Rsne::parse(&WPA2_PSK).unwrap();
        assert_eq!(rsne, Rsne::wpa2_psk());
        let mut out = Vec::new();
        rsne.emit_body(&mut out);
        assert_eq!(out, WPA2_PSK);
        assert_eq!(rsne.body_len(), 20);
    }

    #[test]
    fn keeps_pmkid_and_group_mgmt_cipher() {
        let mut body = WPA2_PSK.to_vec();
        body[18] = 0x80; // MFPC
        body.extend_from_slice(&[0x01, 0x00]);
        body.extend_from_slice(&[0x11; 16]);
        body.extend_from_slice(&[0x00, 0x0f, 0xac, 0x06]);
        let rsne = Rsne::parse(&body).unwrap();
        assert!(rsne.capabilities.unwrap().mfp_capable());
        assert_eq!(rsne.pmkids, Some(vec![[0x11; 16]]));
        assert_eq!(rsne.group_mgmt_cipher, Some(CipherSuite::BipCmac128));
        let mut out = Vec::new();
        rsne.emit_body(&mut out);
        assert_eq!(out, body);
    }

    #[test]
    fn truncated_and_trailing_fields_are_errors() {
        assert!(matches!(
            Rsne::parse(&WPA2_PSK[..9]),
            Err(ParseError::Truncated {
                what: "RSNE pairwise cipher",
                ..
            })
        ));
        assert!(Rsne::parse(&WPA2_PSK[..19]).is_err());
        // Truncation at a field boundary is allowed: version + group only.
        let short = Rsne::parse(&WPA2_PSK[..6]).unwrap();
        assert_eq!(short.pairwise_ciphers, None);
        // A huge count with no items fails without allocating for it.
        assert!(Rsne::parse(&[1, 0, 0, 0x0f, 0xac, 4, 0xff, 0xff]).is_err());
        let mut long = WPA2_PSK.to_vec();
        long.extend_from_slice(&[0, 0, 0, 0x0f, 0xac, 6, 9]);
        assert!(matches!(
            Rsne::parse(&long),
            Err(ParseError::TrailingData { .. })
        ));
    }
}
