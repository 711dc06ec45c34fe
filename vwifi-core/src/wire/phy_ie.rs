//! The HT, VHT and HE capability and operation elements (IEEE 802.11-2020 9.4.2.55, 9.4.2.56,
//! 9.4.2.157, 9.4.2.158, 9.4.2.248, 9.4.2.249) and the HE 6 GHz Band Capabilities element
//! (IEEE 802.11ax-2021 9.4.2.263) in typed form.
//!
//! [`Element`] keeps these elements' bodies as bytes (so unknown bits survive a round trip);
//! the types here read such a body ([`HtCapabilities::parse`] and the others, panic-free, the
//! body's length checked) and write one back ([`HtCapabilities::to_element`]). Every field is
//! kept, reserved bits included, so `parse(emit(x)) == x` and `emit(parse(b)) == b`.

use super::codes::ElementId;
use super::ie::Element;
use super::{ParseError, Reader};

/// The Element ID Extension of HE Capabilities.
pub const EXT_HE_CAPABILITIES: u8 = 35;
/// The Element ID Extension of HE Operation.
pub const EXT_HE_OPERATION: u8 = 36;
/// The Element ID Extension of HE 6 GHz Band Capabilities.
pub const EXT_HE_6GHZ_BAND_CAPABILITIES: u8 = 59;

/// HT Capabilities (element 45, 26 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HtCapabilities {
    /// HT Capability Information: bit 1 40 MHz, bit 5 short GI 20 MHz, bit 6 short GI 40 MHz.
    pub info: u16,
    /// A-MPDU Parameters: bits 0-1 maximum A-MPDU length exponent, 2-4 minimum start spacing.
    pub ampdu_params: u8,
    /// Supported MCS Set: the Rx MCS bitmask (bits 0-76), the highest Rx rate (bits 80-89,
    /// Mbit/s), Tx MCS set flags (octet 12).
    pub mcs_set: [u8; 16],
    /// HT Extended Capabilities.
    pub ext_caps: u16,
    /// Transmit Beamforming Capabilities.
    pub txbf: u32,
    /// ASEL Capabilities.
    pub asel: u8,
}

impl HtCapabilities {
    /// Supported Channel Width Set: 20 and 40 MHz.
    pub const WIDTH_40: u16 = 1 << 1;
    /// Short GI for 20 MHz.
    pub const SGI_20: u16 = 1 << 5;
    /// Short GI for 40 MHz.
    pub const SGI_40: u16 = 1 << 6;
    /// Maximum A-MSDU Length: 7935 octets (clear: 3839).
    pub const MAX_AMSDU_7935: u16 = 1 << 11;
    /// The body length.
    pub const LEN: usize = 26;

    /// Reads an element body.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let out = Self {
            info: r.u16_le("HT capability information")?,
            ampdu_params: r.u8("A-MPDU parameters")?,
            mcs_set: r.array("supported MCS set")?,
            ext_caps: r.u16_le("HT extended capabilities")?,
            txbf: r.u32_le("transmit beamforming capabilities")?,
            asel: r.u8("ASEL capabilities")?,
        };
        r.finish("HT Capabilities")?;
        Ok(out)
    }

    /// Appends the body.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.info.to_le_bytes());
        out.push(self.ampdu_params);
        out.extend_from_slice(&self.mcs_set);
        out.extend_from_slice(&self.ext_caps.to_le_bytes());
        out.extend_from_slice(&self.txbf.to_le_bytes());
        out.push(self.asel);
    }

    /// The element.
    pub fn to_element(&self) -> Element {
        let mut body = Vec::with_capacity(Self::LEN);
        self.emit_body(&mut body);
        Element::HtCapabilities(body)
    }

    /// Spatial streams: the highest `n` such that MCS `8 (n - 1)` is in the Rx MCS bitmask.
    pub fn streams(&self) -> u8 {
        (1..=4u8)
            .rev()
            .find(|n| {
                let bit = 8 * usize::from(n - 1);
                self.mcs_set.get(bit / 8).is_some_and(|b| b & 1 != 0)
            })
            .unwrap_or(0)
    }
}

/// HT Operation (element 61, 22 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HtOperation {
    /// The primary channel.
    pub primary_channel: u8,
    /// HT Operation Information: octet 0 bits 0-1 the secondary channel offset (1 above, 3
    /// below, 0 none), bit 2 the STA channel width (1: any width allowed).
    pub info: [u8; 5],
    /// Basic HT-MCS Set.
    pub basic_mcs: [u8; 16],
}

impl HtOperation {
    /// The body length.
    pub const LEN: usize = 22;

    /// Reads an element body.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let out = Self {
            primary_channel: r.u8("HT primary channel")?,
            info: r.array("HT operation information")?,
            basic_mcs: r.array("basic HT-MCS set")?,
        };
        r.finish("HT Operation")?;
        Ok(out)
    }

    /// Appends the body.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.push(self.primary_channel);
        out.extend_from_slice(&self.info);
        out.extend_from_slice(&self.basic_mcs);
    }

    /// The element.
    pub fn to_element(&self) -> Element {
        let mut body = Vec::with_capacity(Self::LEN);
        self.emit_body(&mut body);
        Element::HtOperation(body)
    }

    /// The secondary channel offset: +1 above, -1 below, 0 none (or reserved).
    pub fn secondary_offset(&self) -> i8 {
        match self.info[0] & 0x03 {
            1 => 1,
            3 => -1,
            _ => 0,
        }
    }

    /// Whether the BSS allows 40 MHz (STA Channel Width set and a secondary channel).
    pub fn is_40_mhz(&self) -> bool {
        self.info[0] & 0x04 != 0 && self.secondary_offset() != 0
    }
}

/// VHT Capabilities (element 191, 12 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VhtCapabilities {
    /// VHT Capabilities Information: bits 2-3 the supported channel width set (0 up to 80,
    /// 1 160, 2 160 and 80+80 MHz), bit 5 short GI 80, bit 6 short GI 160.
    pub info: u32,
    /// Rx VHT-MCS Map: 2 bits per stream count 1-8 (0 MCS 0-7, 1 0-8, 2 0-9, 3 none).
    pub rx_mcs_map: u16,
    /// Rx Highest Supported Long GI Data Rate (bits 0-12, Mbit/s) and the rest.
    pub rx_highest: u16,
    /// Tx VHT-MCS Map.
    pub tx_mcs_map: u16,
    /// Tx Highest Supported Long GI Data Rate and the Extended NSS BW Capable bit.
    pub tx_highest: u16,
}

impl VhtCapabilities {
    /// Short GI for 80 MHz.
    pub const SGI_80: u32 = 1 << 5;
    /// Short GI for 160 MHz.
    pub const SGI_160: u32 = 1 << 6;
    /// The body length.
    pub const LEN: usize = 12;

    /// Reads an element body.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let out = Self {
            info: r.u32_le("VHT capabilities information")?,
            rx_mcs_map: r.u16_le("Rx VHT-MCS map")?,
            rx_highest: r.u16_le("Rx highest VHT rate")?,
            tx_mcs_map: r.u16_le("Tx VHT-MCS map")?,
            tx_highest: r.u16_le("Tx highest VHT rate")?,
        };
        r.finish("VHT Capabilities")?;
        Ok(out)
    }

    /// Appends the body.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.info.to_le_bytes());
        for v in [
            self.rx_mcs_map,
            self.rx_highest,
            self.tx_mcs_map,
            self.tx_highest,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// The element.
    pub fn to_element(&self) -> Element {
        let mut body = Vec::with_capacity(Self::LEN);
        self.emit_body(&mut body);
        Element::VhtCapabilities(body)
    }

    /// Whether 160 MHz is supported.
    pub fn supports_160(&self) -> bool {
        (self.info >> 2) & 0x03 != 0
    }
}

/// The number of streams an MCS map (VHT or HE, 2 bits per stream count) supports: the
/// highest count whose entry is not 3.
pub fn mcs_map_streams(map: u16) -> u8 {
    (1..=8u8)
        .rev()
        .find(|n| (map >> (2 * (n - 1))) & 0x03 != 0x03)
        .unwrap_or(0)
}

/// An MCS map with `nss` streams at entry `value` (0-2) and the rest not supported.
pub fn mcs_map(nss: u8, value: u16) -> u16 {
    (0..8u8).fold(0u16, |m, i| {
        m | (if i < nss { value & 0x03 } else { 0x03 }) << (2 * i)
    })
}

/// VHT Operation (element 192, 5 octets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VhtOperation {
    /// Channel Width: 0 20 or 40 MHz, 1 80, 160 or 80+80 MHz (2 and 3 deprecated).
    pub channel_width: u8,
    /// Channel Center Frequency Segment 0 (the 80 MHz block's centre channel).
    pub ccfs0: u8,
    /// Channel Center Frequency Segment 1 (a 160 MHz channel's centre, else 0).
    pub ccfs1: u8,
    /// Basic VHT-MCS And NSS Set.
    pub basic_mcs: u16,
}

impl VhtOperation {
    /// The body length.
    pub const LEN: usize = 5;

    /// Reads an element body.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let out = Self {
            channel_width: r.u8("VHT channel width")?,
            ccfs0: r.u8("VHT channel centre segment 0")?,
            ccfs1: r.u8("VHT channel centre segment 1")?,
            basic_mcs: r.u16_le("basic VHT-MCS set")?,
        };
        r.finish("VHT Operation")?;
        Ok(out)
    }

    /// Appends the body.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.channel_width, self.ccfs0, self.ccfs1]);
        out.extend_from_slice(&self.basic_mcs.to_le_bytes());
    }

    /// The element.
    pub fn to_element(&self) -> Element {
        let mut data = Vec::with_capacity(Self::LEN);
        self.emit_body(&mut data);
        Element::Other {
            id: ElementId::VhtOperation,
            data,
        }
    }

    /// The BSS width in MHz this element gives (40 or less counts as 40, the HT Operation
    /// element tells 20 from 40): 80 or, with a second segment 8 channels from the first, 160.
    pub fn width_mhz(&self) -> u16 {
        match self.channel_width {
            0 => 40,
            1 if self.ccfs1 != 0 && self.ccfs1.abs_diff(self.ccfs0) == 8 => 160,
            2 => 160,
            _ => 80,
        }
    }
}

/// HE Capabilities (element 255, extension 35).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct HeCapabilities {
    /// HE MAC Capabilities Information.
    pub mac: [u8; 6],
    /// HE PHY Capabilities Information: octet 0 bits 1-7 the supported channel width set
    /// (bit 1 40 MHz at 2.4 GHz, bit 2 40 and 80 MHz at 5/6 GHz, bit 3 160 MHz, bit 4 80+80);
    /// octet 2 bit 7 (B23) PPE Thresholds present.
    pub phy: [u8; 11],
    /// Rx and Tx HE-MCS maps for up to 80 MHz, then for 160 and for 80+80 MHz when the width
    /// set says so: 2 bits per stream count (0 MCS 0-7, 1 0-9, 2 0-11, 3 none).
    pub mcs_maps: Vec<(u16, u16)>,
    /// PPE Thresholds, raw, when present.
    pub ppe: Vec<u8>,
}

impl HeCapabilities {
    /// Width set bit: 40 MHz in the 2.4 GHz band.
    pub const WIDTH_40_2G: u8 = 1 << 1;
    /// Width set bit: 40 and 80 MHz in the 5 and 6 GHz bands.
    pub const WIDTH_80_5G: u8 = 1 << 2;
    /// Width set bit: 160 MHz in the 5 and 6 GHz bands.
    pub const WIDTH_160_5G: u8 = 1 << 3;
    /// Width set bit: 80+80 MHz.
    pub const WIDTH_80_80: u8 = 1 << 4;

    /// How many pairs of maps the PHY capabilities announce.
    fn map_count(phy: &[u8; 11]) -> usize {
        1 + usize::from(phy[0] & Self::WIDTH_160_5G != 0)
            + usize::from(phy[0] & Self::WIDTH_80_80 != 0)
    }

    /// Reads the body after the extension ID.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let mac = r.array("HE MAC capabilities")?;
        let phy: [u8; 11] = r.array("HE PHY capabilities")?;
        let mut mcs_maps = Vec::new();
        for _ in 0..Self::map_count(&phy) {
            mcs_maps.push((r.u16_le("Rx HE-MCS map")?, r.u16_le("Tx HE-MCS map")?));
        }
        let ppe_present = phy[2] & 0x80 != 0;
        let ppe = r.rest().to_vec();
        if !ppe_present && !ppe.is_empty() {
            return Err(ParseError::TrailingData {
                what: "HE Capabilities",
                len: ppe.len(),
            });
        }
        Ok(Self {
            mac,
            phy,
            mcs_maps,
            ppe,
        })
    }

    /// Appends the body after the extension ID.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.mac);
        out.extend_from_slice(&self.phy);
        for (rx, tx) in &self.mcs_maps {
            out.extend_from_slice(&rx.to_le_bytes());
            out.extend_from_slice(&tx.to_le_bytes());
        }
        out.extend_from_slice(&self.ppe);
    }

    /// The element.
    pub fn to_element(&self) -> Element {
        let mut data = Vec::new();
        self.emit_body(&mut data);
        Element::Extension {
            ext_id: EXT_HE_CAPABILITIES,
            data,
        }
    }

    /// Streams of the (up to 80 MHz) Rx map.
    pub fn streams(&self) -> u8 {
        self.mcs_maps
            .first()
            .map_or(0, |(rx, _)| mcs_map_streams(*rx))
    }
}

/// HE Operation (element 255, extension 36).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HeOperation {
    /// HE Operation Parameters (24 bits): bit 14 VHT Operation Information present, bit 15
    /// co-hosted BSS, bit 17 6 GHz Operation Information present.
    pub params: u32,
    /// BSS Color Information.
    pub bss_color: u8,
    /// Basic HE-MCS And NSS Set.
    pub basic_mcs: u16,
    /// VHT Operation Information (channel width, CCFS0, CCFS1), if present.
    pub vht_info: Option<[u8; 3]>,
    /// Max Co-Hosted BSSID Indicator, if present.
    pub cohosted: Option<u8>,
    /// 6 GHz Operation Information (primary channel, control, CCFS0, CCFS1, minimum rate),
    /// if present.
    pub six_ghz: Option<[u8; 5]>,
}

impl HeOperation {
    const VHT_PRESENT: u32 = 1 << 14;
    const COHOSTED: u32 = 1 << 15;
    const SIX_GHZ_PRESENT: u32 = 1 << 17;

    /// Reads the body after the extension ID; the optional fields follow the parameters' bits.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let p: [u8; 3] = r.array("HE operation parameters")?;
        let params = u32::from(p[0]) | u32::from(p[1]) << 8 | u32::from(p[2]) << 16;
        let bss_color = r.u8("BSS color information")?;
        let basic_mcs = r.u16_le("basic HE-MCS set")?;
        let vht_info = (params & Self::VHT_PRESENT != 0)
            .then(|| r.array("VHT operation information"))
            .transpose()?;
        let cohosted = (params & Self::COHOSTED != 0)
            .then(|| r.u8("max co-hosted BSSID indicator"))
            .transpose()?;
        let six_ghz = (params & Self::SIX_GHZ_PRESENT != 0)
            .then(|| r.array("6 GHz operation information"))
            .transpose()?;
        r.finish("HE Operation")?;
        Ok(Self {
            params,
            bss_color,
            basic_mcs,
            vht_info,
            cohosted,
            six_ghz,
        })
    }

    /// Appends the body after the extension ID. The presence bits are set from the optional
    /// fields.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        let mut p = self.params & !(Self::VHT_PRESENT | Self::COHOSTED | Self::SIX_GHZ_PRESENT);
        if self.vht_info.is_some() {
            p |= Self::VHT_PRESENT;
        }
        if self.cohosted.is_some() {
            p |= Self::COHOSTED;
        }
        if self.six_ghz.is_some() {
            p |= Self::SIX_GHZ_PRESENT;
        }
        out.extend_from_slice(&p.to_le_bytes()[..3]);
        out.push(self.bss_color);
        out.extend_from_slice(&self.basic_mcs.to_le_bytes());
        if let Some(v) = self.vht_info {
            out.extend_from_slice(&v);
        }
        if let Some(c) = self.cohosted {
            out.push(c);
        }
        if let Some(s) = self.six_ghz {
            out.extend_from_slice(&s);
        }
    }

    /// The element.
    pub fn to_element(&self) -> Element {
        let mut data = Vec::new();
        self.emit_body(&mut data);
        Element::Extension {
            ext_id: EXT_HE_OPERATION,
            data,
        }
    }
}

/// The 6 GHz Operation Information of an HE Operation element ([`HeOperation::six_ghz`];
/// IEEE 802.11ax-2021 9.4.2.249): where a 6 GHz BSS operates, as HT and VHT Operation say it
/// in the other bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SixGhzOperation {
    /// Primary Channel (a 6 GHz channel number).
    pub primary_channel: u8,
    /// Control: bits 0-1 Channel Width (0 20, 1 40, 2 80, 3 160 or 80+80 MHz), bit 2
    /// Duplicate Beacon, bits 3-5 Regulatory Info.
    pub control: u8,
    /// Channel Center Frequency Segment 0: the centre channel of the BSS at 20 to 80 MHz, of its
    /// primary 80 MHz at 160 MHz.
    pub ccfs0: u8,
    /// Channel Center Frequency Segment 1: the 160 MHz channel's centre, else 0.
    pub ccfs1: u8,
    /// Minimum Rate, in units of 1 Mbit/s.
    pub min_rate: u8,
}

impl SixGhzOperation {
    /// The field as it sits in [`HeOperation::six_ghz`].
    pub const fn from_bytes(b: [u8; 5]) -> Self {
        Self {
            primary_channel: b[0],
            control: b[1],
            ccfs0: b[2],
            ccfs1: b[3],
            min_rate: b[4],
        }
    }

    /// The five octets of the field.
    pub const fn to_bytes(&self) -> [u8; 5] {
        [
            self.primary_channel,
            self.control,
            self.ccfs0,
            self.ccfs1,
            self.min_rate,
        ]
    }

    /// The BSS width in MHz the Channel Width subfield gives.
    pub const fn width_mhz(&self) -> u16 {
        match self.control & 0x03 {
            0 => 20,
            1 => 40,
            2 => 80,
            _ => 160,
        }
    }
}

/// HE 6 GHz Band Capabilities (element 255, extension 59, 2 octets; IEEE 802.11ax-2021
/// 9.4.2.263): in the 6 GHz band, where no HT Capabilities element is sent, it carries the
/// A-MPDU parameters, the maximum MPDU length and the SM power save mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct He6GhzBandCapabilities {
    /// Capabilities Information: bits 0-2 Minimum MPDU Start Spacing, 3-5 Maximum A-MPDU
    /// Length Exponent, 6-7 Maximum MPDU Length (0 3895, 1 7991, 2 11 454 octets), 9-10 SM
    /// Power Save, 11 RD Responder, 12-13 Rx/Tx Antenna Pattern Consistency.
    pub info: u16,
}

impl He6GhzBandCapabilities {
    /// The body length after the extension ID.
    pub const LEN: usize = 2;
    /// The Maximum A-MPDU Length Exponent subfield's shift (bits 3-5).
    pub const MAX_AMPDU_EXP_SHIFT: u16 = 3;
    /// The Maximum MPDU Length subfield's shift (bits 6-7).
    pub const MAX_MPDU_SHIFT: u16 = 6;
    /// SM Power Save disabled (bits 9-10 = 3, as in HT Capabilities).
    pub const SM_PS_DISABLED: u16 = 3 << 9;

    /// Reads the body after the extension ID.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(body);
        let info = r.u16_le("HE 6 GHz band capabilities information")?;
        r.finish("HE 6 GHz Band Capabilities")?;
        Ok(Self { info })
    }

    /// Appends the body after the extension ID.
    pub fn emit_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.info.to_le_bytes());
    }

    /// The element.
    pub fn to_element(&self) -> Element {
        let mut data = Vec::with_capacity(Self::LEN);
        self.emit_body(&mut data);
        Element::Extension {
            ext_id: EXT_HE_6GHZ_BAND_CAPABILITIES,
            data,
        }
    }

    /// The Maximum MPDU Length it announces, octets (the VHT Capabilities' encoding).
    pub const fn max_mpdu_len(&self) -> usize {
        match (self.info >> Self::MAX_MPDU_SHIFT) & 0x03 {
            0 => 3895,
            1 => 7991,
            _ => 11_454,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_with_the_wrong_length_are_refused() {
        assert!(HtCapabilities::parse(&[0; 25]).is_err());
        assert!(HtCapabilities::parse(&[0; 27]).is_err());
        assert!(HtOperation::parse(&[0; 21]).is_err());
        assert!(VhtCapabilities::parse(&[0; 11]).is_err());
        assert!(VhtOperation::parse(&[0; 6]).is_err());
        // HE capabilities: 6 + 11 + 4, plus 4 more when 160 MHz is announced.
        assert!(HeCapabilities::parse(&[0; 21]).is_ok());
        let mut b = [0u8; 21];
        b[6] = HeCapabilities::WIDTH_160_5G;
        assert!(HeCapabilities::parse(&b).is_err());
        assert!(HeCapabilities::parse(&[0; 22]).is_err());
        // HE operation with the VHT information bit but no information.
        assert!(HeOperation::parse(&[0, 0x40, 0, 0, 0, 0]).is_err());
        assert!(HeOperation::parse(&[0, 0x40, 0, 0, 0, 0, 1, 42, 0]).is_ok());
        assert!(He6GhzBandCapabilities::parse(&[0]).is_err());
        assert!(He6GhzBandCapabilities::parse(&[0; 3]).is_err());
    }

    #[test]
    fn six_ghz_fields_read_their_subfields() {
        let op = SixGhzOperation::from_bytes([37, 0x03, 39, 47, 6]);
        assert_eq!(op.width_mhz(), 160);
        assert_eq!(op.to_bytes(), [37, 0x03, 39, 47, 6]);
        assert_eq!(
            SixGhzOperation::from_bytes([1, 0x04, 1, 0, 6]).width_mhz(),
            20
        );
        let caps = He6GhzBandCapabilities::parse(&[0xb8, 0x06]).unwrap();
        assert_eq!(caps.max_mpdu_len(), 11_454);
        assert_eq!(
            (caps.info >> He6GhzBandCapabilities::MAX_AMPDU_EXP_SHIFT) & 7,
            7
        );
    }

    mod roundtrip {
        use super::*;
        use proptest::collection::vec;
        use proptest::prelude::*;

        fn body_of(e: &Element) -> Vec<u8> {
            let mut out = Vec::new();
            e.emit(&mut out);
            out.split_off(2)
        }

        proptest! {
            #[test]
            fn ht_capabilities(info: u16, ampdu_params: u8, mcs_set: [u8; 16], ext_caps: u16, txbf: u32, asel: u8) {
                let x = HtCapabilities { info, ampdu_params, mcs_set, ext_caps, txbf, asel };
                prop_assert_eq!(HtCapabilities::parse(&body_of(&x.to_element())), Ok(x));
            }

            #[test]
            fn ht_operation(primary_channel: u8, info: [u8; 5], basic_mcs: [u8; 16]) {
                let x = HtOperation { primary_channel, info, basic_mcs };
                prop_assert_eq!(HtOperation::parse(&body_of(&x.to_element())), Ok(x));
            }

            #[test]
            fn vht_elements(info: u32, maps: [u16; 4], op: [u8; 3], basic_mcs: u16) {
                let c = VhtCapabilities {
                    info,
                    rx_mcs_map: maps[0],
                    rx_highest: maps[1],
                    tx_mcs_map: maps[2],
                    tx_highest: maps[3],
                };
                prop_assert_eq!(VhtCapabilities::parse(&body_of(&c.to_element())), Ok(c));
                let o = VhtOperation { channel_width: op[0], ccfs0: op[1], ccfs1: op[2], basic_mcs };
                prop_assert_eq!(VhtOperation::parse(&body_of(&o.to_element())), Ok(o));
            }

            #[test]
            fn he_capabilities(mac: [u8; 6], mut phy: [u8; 11], maps in vec(any::<(u16, u16)>(), 3), ppe in vec(any::<u8>(), 0..8)) {
                if ppe.is_empty() {
                    phy[2] &= 0x7f;
                } else {
                    phy[2] |= 0x80;
                }
                let n = HeCapabilities::map_count(&phy);
                let x = HeCapabilities { mac, phy, mcs_maps: maps[..n].to_vec(), ppe };
                let body = body_of(&x.to_element());
                prop_assert_eq!(body.first().copied(), Some(EXT_HE_CAPABILITIES));
                prop_assert_eq!(HeCapabilities::parse(&body[1..]), Ok(x));
            }

            #[test]
            fn he_operation(params in 0u32..(1 << 24), bss_color: u8, basic_mcs: u16,
                vht_info: Option<[u8; 3]>, cohosted: Option<u8>, six_ghz: Option<[u8; 5]>) {
                let mut x = HeOperation { params, bss_color, basic_mcs, vht_info, cohosted, six_ghz };
                let body = body_of(&x.to_element());
                // The presence bits follow the optional fields.
                x.params = (params & !((1 << 14) | (1 << 15) | (1 << 17)))
                    | u32::from(vht_info.is_some()) << 14
                    | u32::from(cohosted.is_some()) << 15
                    | u32::from(six_ghz.is_some()) << 17;
                prop_assert_eq!(HeOperation::parse(&body[1..]), Ok(x));
            }

            #[test]
            fn typed_parsers_never_panic(body in vec(any::<u8>(), 0..64)) {
                let _ = HtCapabilities::parse(&body);
                let _ = HtOperation::parse(&body);
                let _ = VhtCapabilities::parse(&body);
                let _ = VhtOperation::parse(&body);
                let _ = HeCapabilities::parse(&body);
                let _ = HeOperation::parse(&body);
                let _ = He6GhzBandCapabilities::parse(&body);
            }

            #[test]
            fn he_6ghz_band_capabilities(info: u16) {
                let x = He6GhzBandCapabilities { info };
                let body = body_of(&x.to_element());
                prop_assert_eq!(body.first().copied(), Some(EXT_HE_6GHZ_BAND_CAPABILITIES));
                prop_assert_eq!(He6GhzBandCapabilities::parse(&body[1..]), Ok(x));
            }
        }
    }

    #[test]
    fn mcs_maps_count_streams() {
        assert_eq!(mcs_map(2, 2), 0xfffa);
        assert_eq!(mcs_map_streams(0xfffa), 2);
        assert_eq!(mcs_map_streams(0xffff), 0);
        assert_eq!(mcs_map_streams(mcs_map(4, 1)), 4);
    }
}
