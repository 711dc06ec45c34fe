//! A minimal reading of the RSNE, enough to refuse what the handshake cannot do
//! (IEEE 802.11-2020 9.4.2.24). The full RSNE type lives in `wire`.

use super::{Akm, HandshakeError};
use crate::wire::{ParseError, Reader};

const CCMP_128: u32 = 0x000f_ac04;
const ELEMENT_ID_RSN: u8 = 48;

/// Checks that an RSNE (ID and length included) is version 1 with a CCMP-128 group cipher
/// and lists CCMP-128 among its pairwise ciphers and PSK or SAE among its AKMs, and returns
/// the AKMs it lists that the handshake supports. With `selected`, the lists must hold exactly
/// one of each (a supplicant's choice in its association request).
pub(super) fn check(rsne: &[u8], selected: bool) -> Result<Vec<Akm>, HandshakeError> {
    let mut r = Reader::new(rsne);
    let id = r.u8("RSNE element ID")?;
    if id != ELEMENT_ID_RSN {
        return Err(ParseError::BadValue {
            what: "RSNE element ID",
            value: id.into(),
        }
        .into());
    }
    let len = r.u8("RSNE length")?;
    let mut body = r.sub(usize::from(len), "RSNE body")?;
    r.finish("RSNE")?;
    let version = body.u16_le("RSN version")?;
    if version != 1 {
        return Err(HandshakeError::UnsupportedRsnVersion { version });
    }
    let group = body.u32_be("RSN group cipher suite")?;
    if group != CCMP_128 {
        return Err(HandshakeError::UnsupportedGroupCipher { suite: group });
    }
    let pairwise = suites(&mut body, "RSN pairwise cipher suite")?;
    if !fits(&pairwise, CCMP_128, selected) {
        let suite = pairwise.first().copied().unwrap_or(0);
        return Err(HandshakeError::UnsupportedPairwiseCipher { suite });
    }
    let akms = suites(&mut body, "RSN AKM suite")?;
    let supported: Vec<Akm> = [Akm::Psk, Akm::Sae]
        .into_iter()
        .filter(|a| fits(&akms, a.suite(), selected))
        .collect();
    if supported.is_empty() {
        let suite = akms.first().copied().unwrap_or(0);
        return Err(HandshakeError::UnsupportedAkm { suite });
    }
    Ok(supported)
}

/// The one AKM a supplicant's RSNE selects, which the authenticator's RSNE must offer.
pub(super) fn negotiate(supplicant: &[u8], authenticator: &[u8]) -> Result<Akm, HandshakeError> {
    let chosen = check(supplicant, true)?;
    let offered = check(authenticator, false)?;
    match chosen.as_slice() {
        [akm] if offered.contains(akm) => Ok(*akm),
        _ => Err(HandshakeError::UnsupportedAkm {
            suite: chosen.first().map_or(0, |a| a.suite()),
        }),
    }
}

fn suites(r: &mut Reader<'_>, what: &'static str) -> Result<Vec<u32>, ParseError> {
    let count = r.u16_le(what)?;
    (0..count).map(|_| r.u32_be(what)).collect()
}

fn fits(list: &[u32], want: u32, selected: bool) -> bool {
    if selected {
        list == [want]
    } else {
        list.contains(&want)
    }
}
