//! The Traffic Indication Map element (IEEE 802.11-2020 9.4.2.5): which power-saving stations
//! have frames buffered at the AP.

use super::{ParseError, Reader};

/// The body of a TIM element.
///
/// The partial virtual bitmap covers octets `N1..=N2` of the 251-octet traffic indication
/// virtual bitmap, in which bit `n` stands for AID `n`; `N1` is the (even) offset in
/// [`Tim::bitmap_offset`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tim {
    /// Beacons until the next DTIM (0: this beacon is a DTIM).
    pub dtim_count: u8,
    /// Beacon intervals between DTIMs.
    pub dtim_period: u8,
    /// Bitmap Control: bit 0 is the group traffic indicator, bits 1-7 the bitmap offset / 2.
    pub bitmap_control: u8,
    /// The partial virtual bitmap, 1..=251 octets.
    pub partial_virtual_bitmap: Vec<u8>,
}

impl Tim {
    /// The largest AID a TIM can indicate.
    pub const MAX_AID: u16 = 2007;
    /// The number of octets of the full virtual bitmap.
    const BITMAP_LEN: usize = 251;

    /// Parses the element body.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let dtim_count = r.u8("TIM DTIM count")?;
        let dtim_period = r.u8("TIM DTIM period")?;
        let bitmap_control = r.u8("TIM bitmap control")?;
        let pvb = r.rest();
        if pvb.is_empty() {
            return Err(ParseError::Truncated {
                what: "TIM partial virtual bitmap",
                need: 1,
                have: 0,
            });
        }
        Ok(Self {
            dtim_count,
            dtim_period,
            bitmap_control,
            partial_virtual_bitmap: pvb.to_vec(),
        })
    }

    /// The length of the element body.
    pub fn body_len(&self) -> usize {
        3 + self.partial_virtual_bitmap.len()
    }

    /// Appends the element body to `out`.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.dtim_count, self.dtim_period, self.bitmap_control]);
        out.extend_from_slice(&self.partial_virtual_bitmap);
    }

    /// Builds a TIM announcing buffered frames for `aids` (values 1..=2007; others are
    /// ignored) and, if `group` is set, group-addressed frames buffered for the next DTIM.
    pub fn from_aids(
        dtim_count: u8,
        dtim_period: u8,
        group: bool,
        aids: impl IntoIterator<Item = u16>,
    ) -> Self {
        let mut bitmap = [0u8; Self::BITMAP_LEN];
        for aid in aids {
            if (1..=Self::MAX_AID).contains(&aid) {
                if let Some(octet) = bitmap.get_mut(usize::from(aid / 8)) {
                    *octet |= 1 << (aid % 8);
                }
            }
        }
        let first = bitmap.iter().position(|&b| b != 0);
        let last = bitmap.iter().rposition(|&b| b != 0);
        let (n1, pvb) = match (first, last) {
            (Some(first), Some(last)) => {
                let n1 = first & !1;
                (n1, bitmap.get(n1..=last).unwrap_or(&[0]).to_vec())
            }
            _ => (0, vec![0]),
        };
        Self {
            dtim_count,
            dtim_period,
            // n1 is even and at most 250, so it fits in bits 1-7.
            bitmap_control: (n1 as u8 & 0xfe) | u8::from(group),
            partial_virtual_bitmap: pvb,
        }
    }

    /// Whether group-addressed frames are buffered (bit 0 of bitmap control).
    pub fn group_traffic(&self) -> bool {
        self.bitmap_control & 0x01 != 0
    }

    /// The octet offset `N1` of the partial virtual bitmap in the full bitmap.
    pub fn bitmap_offset(&self) -> usize {
        usize::from(self.bitmap_control & 0xfe)
    }

    /// Whether frames are buffered for the station with association ID `aid`.
    pub fn has_aid(&self, aid: u16) -> bool {
        let octet = usize::from(aid / 8);
        octet
            .checked_sub(self.bitmap_offset())
            .and_then(|i| self.partial_virtual_bitmap.get(i))
            .is_some_and(|b| b & (1 << (aid % 8)) != 0)
    }

    /// The AIDs (1..=2007) whose bits are set.
    pub fn aids(&self) -> impl Iterator<Item = u16> + '_ {
        let n1 = self.bitmap_offset();
        self.partial_virtual_bitmap
            .iter()
            .enumerate()
            .flat_map(move |(i, &b)| {
                (0..8u16).filter_map(move |bit| {
                    let aid = u16::try_from((n1 + i) * 8).ok()? + bit;
                    (b & (1 << bit) != 0 && (1..=Self::MAX_AID).contains(&aid)).then_some(aid)
                })
            })
    }

    /// Sets or clears the bit of `aid` (1..=2007; others are ignored), re-encoding the
    /// partial virtual bitmap minimally.
    pub fn set_aid(&mut self, aid: u16, buffered: bool) {
        let mut aids: Vec<u16> = self.aids().filter(|&a| a != aid).collect();
        if buffered {
            aids.push(aid);
        }
        *self = Self::from_aids(
            self.dtim_count,
            self.dtim_period,
            self.group_traffic(),
            aids,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_minimal_bitmap_from_aids() {
        // AIDs 17 and 30 live in octets 2 and 3: N1 = 2, bitmap = [0x02, 0x40].
        let tim = Tim::from_aids(0, 3, true, [17, 30]);
        assert_eq!(tim.bitmap_control, 0x03);
        assert_eq!(tim.partial_virtual_bitmap, vec![0x02, 0x40]);
        assert!(tim.has_aid(17) && tim.has_aid(30));
        assert!(!tim.has_aid(1) && !tim.has_aid(18) && !tim.has_aid(2007));
        assert_eq!(tim.aids().collect::<Vec<_>>(), vec![17, 30]);
        // Odd first octet: AID 24 is in octet 3, N1 rounds down to 2.
        let tim = Tim::from_aids(1, 3, false, [24]);
        assert_eq!(tim.bitmap_control, 0x02);
        assert_eq!(tim.partial_virtual_bitmap, vec![0x00, 0x01]);
    }

    #[test]
    fn empty_tim_has_one_zero_octet() {
        let tim = Tim::from_aids(0, 1, false, [0, 2008]);
        assert_eq!(tim.partial_virtual_bitmap, vec![0]);
        assert_eq!(tim.bitmap_control, 0);
        assert_eq!(tim.aids().count(), 0);
    }

    #[test]
    fn set_aid_updates_bits() {
        let mut tim = Tim::from_aids(0, 1, false, [5]);
        tim.set_aid(2007, true);
        assert!(tim.has_aid(5) && tim.has_aid(2007));
        tim.set_aid(5, false);
        assert!(!tim.has_aid(5));
        assert_eq!(tim.bitmap_offset(), 250);
        assert_eq!(tim.partial_virtual_bitmap, vec![0x80]);
    }

    #[test]
    fn parse_requires_a_bitmap_octet() {
        assert!(Tim::parse(&[0, 1, 0]).is_err());
        let tim = Tim::parse(&[0, 1, 0, 0x10]).unwrap();
        assert!(tim.has_aid(4));
        let mut out = Vec::new();
        tim.emit_body(&mut out);
        assert_eq!(out, [0, 1, 0, 0x10]);
    }
}
