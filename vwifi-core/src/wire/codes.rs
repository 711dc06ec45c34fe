//! Numeric code points of 802.11 management: status and reason codes, element IDs,
//! authentication algorithms, cipher and AKM suite selectors.
//!
//! Every enum keeps values it does not name in `Unknown`, so that frames survive a round trip.
//! Build codes with `From<u16>`/`From<u8>`/`from_bytes`, which never produce a non-canonical
//! `Unknown` holding a named value.

enum_with_unknown! {
    /// A status code (IEEE 802.11-2020 9.4.1.9, Table 9-50), carried in authentication and
    /// (re)association responses.
    pub enum StatusCode(u16) {
        /// 0: successful.
        Success = 0,
        /// 1: unspecified failure.
        UnspecifiedFailure = 1,
        /// 2: TDLS wakeup schedule rejected but alternative schedule provided.
        TdlsWakeupAlternate = 2,
        /// 3: TDLS wakeup schedule rejected.
        TdlsWakeupReject = 3,
        /// 5: security disabled.
        SecurityDisabled = 5,
        /// 6: unacceptable lifetime.
        UnacceptableLifetime = 6,
        /// 7: not in same BSS.
        NotInSameBss = 7,
        /// 10: cannot support all requested capabilities in the Capability Information field.
        RefusedCapabilitiesMismatch = 10,
        /// 11: reassociation denied because association cannot be confirmed.
        DeniedNoAssociationExists = 11,
        /// 12: association denied for a reason outside the scope of the standard.
        DeniedOtherReason = 12,
        /// 13: the responding STA does not support the authentication algorithm.
        UnsupportedAuthAlgorithm = 13,
        /// 14: authentication frame received with an unexpected transaction sequence number.
        TransactionSequenceError = 14,
        /// 15: authentication rejected because of challenge failure.
        ChallengeFailure = 15,
        /// 16: authentication rejected due to timeout waiting for the next frame in sequence.
        AuthenticationTimeout = 16,
        /// 17: the AP is unable to handle additional associated STAs.
        ApUnableToHandleNewStations = 17,
        /// 18: the requesting STA does not support all the basic rates of the BSS.
        DeniedBasicRatesMismatch = 18,
        /// 19: the requesting STA does not support the short preamble option.
        DeniedNoShortPreamble = 19,
        /// 22: spectrum management capability required.
        SpectrumManagementRequired = 22,
        /// 23: the Power Capability element is unacceptable.
        PowerCapabilityUnacceptable = 23,
        /// 24: the Supported Channels element is unacceptable.
        SupportedChannelsUnacceptable = 24,
        /// 25: the requesting STA does not support the short slot time option.
        DeniedNoShortSlotTime = 25,
        /// 27: the requesting STA does not support HT features.
        DeniedNoHtSupport = 27,
        /// 28: R0KH unreachable.
        R0khUnreachable = 28,
        /// 29: the requesting STA does not support PCO transition time.
        DeniedPcoTimeNotSupported = 29,
        /// 30: association request rejected temporarily; try again later.
        RefusedTemporarily = 30,
        /// 31: robust management frame policy violation.
        RobustManagementPolicyViolation = 31,
        /// 32: unspecified, QoS-related failure.
        UnspecifiedQosFailure = 32,
        /// 33: insufficient bandwidth to handle another QoS STA.
        DeniedInsufficientBandwidth = 33,
        /// 34: excessive frame loss rates and/or poor conditions on the current channel.
        DeniedPoorChannelConditions = 34,
        /// 35: the BSS is a QoS BSS and the requesting STA does not support QoS.
        DeniedQosNotSupported = 35,
        /// 37: the request has been declined.
        RequestDeclined = 37,
        /// 38: the request has not been successful as one or more parameters have invalid values.
        InvalidParameters = 38,
        /// 40: an element is invalid.
        InvalidElement = 40,
        /// 41: invalid group cipher.
        InvalidGroupCipher = 41,
        /// 42: invalid pairwise cipher.
        InvalidPairwiseCipher = 42,
        /// 43: invalid AKMP.
        InvalidAkmp = 43,
        /// 44: unsupported RSNE version.
        UnsupportedRsneVersion = 44,
        /// 45: invalid RSNE capabilities.
        InvalidRsneCapabilities = 45,
        /// 46: cipher suite rejected because of security policy.
        CipherSuiteRejected = 46,
        /// 47: the TS or block ack has not been created; try again after the TS delay.
        RejectedForDelayPeriod = 47,
        /// 51: the listen interval is too large.
        DeniedListenIntervalTooLarge = 51,
        /// 52: invalid FT Action frame count.
        InvalidFtActionFrameCount = 52,
        /// 53: invalid pairwise master key identifier (PMKID).
        InvalidPmkid = 53,
        /// 54: invalid MDE.
        InvalidMde = 54,
        /// 55: invalid FTE.
        InvalidFte = 55,
        /// 76: anti-clogging token required (SAE).
        AntiCloggingTokenRequired = 76,
        /// 77: the finite cyclic group is not supported (SAE).
        FiniteCyclicGroupNotSupported = 77,
        /// 126: SAE hash-to-element.
        SaeHashToElement = 126,
        /// 127: SAE-PK.
        SaePk = 127,
    }
}

impl StatusCode {
    /// Whether this is [`StatusCode::Success`].
    pub fn is_success(self) -> bool {
        self == Self::Success
    }
}

enum_with_unknown! {
    /// A reason code (IEEE 802.11-2020 9.4.1.7, Table 9-49), carried in deauthentication and
    /// disassociation frames.
    pub enum ReasonCode(u16) {
        /// 1: unspecified reason.
        Unspecified = 1,
        /// 2: previous authentication no longer valid.
        PrevAuthNotValid = 2,
        /// 3: deauthenticated because the sending STA is leaving (or has left) the BSS.
        DeauthLeaving = 3,
        /// 4: disassociated due to inactivity.
        Inactivity = 4,
        /// 5: disassociated because the AP is unable to handle all currently associated STAs.
        ApBusy = 5,
        /// 6: class 2 frame received from a nonauthenticated STA.
        Class2FrameFromNonauthSta = 6,
        /// 7: class 3 frame received from a nonassociated STA.
        Class3FrameFromNonassocSta = 7,
        /// 8: disassociated because the sending STA is leaving (or has left) the BSS.
        DisassocLeaving = 8,
        /// 9: STA requesting (re)association is not authenticated with the responding STA.
        NotAuthenticated = 9,
        /// 10: the information in the Power Capability element is unacceptable.
        PowerCapabilityUnacceptable = 10,
        /// 11: the information in the Supported Channels element is unacceptable.
        SupportedChannelsUnacceptable = 11,
        /// 12: disassociated due to BSS transition management.
        BssTransitionDisassoc = 12,
        /// 13: invalid element.
        InvalidElement = 13,
        /// 14: message integrity code (MIC) failure.
        MicFailure = 14,
        /// 15: 4-way handshake timeout.
        FourWayHandshakeTimeout = 15,
        /// 16: group key handshake timeout.
        GroupKeyHandshakeTimeout = 16,
        /// 17: an element in the 4-way handshake differs from the (re)association or beacon one.
        IeInFourWayHandshakeDifferent = 17,
        /// 18: invalid group cipher.
        InvalidGroupCipher = 18,
        /// 19: invalid pairwise cipher.
        InvalidPairwiseCipher = 19,
        /// 20: invalid AKMP.
        InvalidAkmp = 20,
        /// 21: unsupported RSNE version.
        UnsupportedRsneVersion = 21,
        /// 22: invalid RSNE capabilities.
        InvalidRsneCapabilities = 22,
        /// 23: IEEE 802.1X authentication failed.
        Ieee8021xAuthFailed = 23,
        /// 24: cipher suite rejected because of the security policy.
        CipherSuiteRejected = 24,
        /// 32: disassociated for unspecified, QoS-related reason.
        UnspecifiedQosReason = 32,
        /// 34: disassociated because of excessive frames not acknowledged.
        MissingAcks = 34,
        /// 36: requesting STA is leaving the BSS (or resetting).
        StaLeaving = 36,
        /// 39: requested from peer STA due to timeout.
        Timeout = 39,
    }
}

enum_with_unknown! {
    /// An element ID (IEEE 802.11-2020 9.4.2.1, Table 9-92).
    pub enum ElementId(u8) {
        /// 0: SSID.
        Ssid = 0,
        /// 1: Supported Rates and BSS Membership Selectors.
        SupportedRates = 1,
        /// 3: DSSS Parameter Set (the current channel).
        DsParameterSet = 3,
        /// 4: CF Parameter Set.
        CfParameterSet = 4,
        /// 5: Traffic Indication Map.
        Tim = 5,
        /// 6: IBSS Parameter Set.
        IbssParameterSet = 6,
        /// 7: Country.
        Country = 7,
        /// 11: BSS Load.
        BssLoad = 11,
        /// 16: Challenge text (shared key authentication).
        ChallengeText = 16,
        /// 32: Power Constraint.
        PowerConstraint = 32,
        /// 33: Power Capability.
        PowerCapability = 33,
        /// 35: TPC Report.
        TpcReport = 35,
        /// 36: Supported Channels.
        SupportedChannels = 36,
        /// 37: Channel Switch Announcement.
        ChannelSwitchAnnouncement = 37,
        /// 42: ERP.
        Erp = 42,
        /// 45: HT Capabilities.
        HtCapabilities = 45,
        /// 46: QoS Capability.
        QosCapability = 46,
        /// 48: RSN.
        Rsn = 48,
        /// 50: Extended Supported Rates and BSS Membership Selectors.
        ExtendedSupportedRates = 50,
        /// 54: Mobility Domain.
        MobilityDomain = 54,
        /// 55: Fast BSS Transition.
        FastBssTransition = 55,
        /// 56: Timeout Interval.
        TimeoutInterval = 56,
        /// 59: Supported Operating Classes.
        SupportedOperatingClasses = 59,
        /// 61: HT Operation.
        HtOperation = 61,
        /// 70: RM Enabled Capabilities.
        RmEnabledCapabilities = 70,
        /// 72: 20/40 BSS Coexistence.
        Bss2040Coexistence = 72,
        /// 74: Overlapping BSS Scan Parameters.
        OverlappingBssScanParameters = 74,
        /// 76: Management MIC.
        ManagementMic = 76,
        /// 107: Interworking.
        Interworking = 107,
        /// 113: Mesh Configuration.
        MeshConfiguration = 113,
        /// 114: Mesh ID.
        MeshId = 114,
        /// 127: Extended Capabilities.
        ExtendedCapabilities = 127,
        /// 191: VHT Capabilities.
        VhtCapabilities = 191,
        /// 192: VHT Operation.
        VhtOperation = 192,
        /// 195: Transmit Power Envelope.
        TransmitPowerEnvelope = 195,
        /// 199: Operating Mode Notification.
        OperatingModeNotification = 199,
        /// 221: Vendor Specific.
        VendorSpecific = 221,
        /// 244: RSN Extension.
        RsnExtension = 244,
        /// 255: Element ID Extension (the first body octet is the extension ID).
        Extension = 255,
    }
}

enum_with_unknown! {
    /// An authentication algorithm number (IEEE 802.11-2020 9.4.1.1).
    pub enum AuthAlgorithm(u16) {
        /// 0: Open System.
        OpenSystem = 0,
        /// 1: Shared Key.
        SharedKey = 1,
        /// 2: Fast BSS Transition.
        FastBssTransition = 2,
        /// 3: Simultaneous Authentication of Equals (SAE).
        Sae = 3,
        /// 4: FILS shared key authentication without PFS.
        Fils = 4,
        /// 5: FILS shared key authentication with PFS.
        FilsPfs = 5,
        /// 6: FILS public key authentication.
        FilsPublicKey = 6,
        /// 65535: vendor specific.
        VendorSpecific = 0xffff,
    }
}

/// The IEEE 802.11 OUI 00-0F-AC that prefixes the standard cipher and AKM suite selectors.
pub const IEEE80211_OUI: [u8; 3] = [0x00, 0x0f, 0xac];

enum_with_unknown! {
    /// A cipher suite selector (IEEE 802.11-2020 9.4.2.24.2, Table 9-149), as the big-endian
    /// value of its four octets (OUI then suite type): CCMP-128 is `0x000FAC04`.
    pub enum CipherSuite(u32) {
        /// 00-0F-AC:0: use the group cipher suite.
        UseGroup = 0x000f_ac00,
        /// 00-0F-AC:1: WEP-40.
        Wep40 = 0x000f_ac01,
        /// 00-0F-AC:2: TKIP.
        Tkip = 0x000f_ac02,
        /// 00-0F-AC:4: CCMP-128 (the WPA2 default).
        Ccmp128 = 0x000f_ac04,
        /// 00-0F-AC:5: WEP-104.
        Wep104 = 0x000f_ac05,
        /// 00-0F-AC:6: BIP-CMAC-128.
        BipCmac128 = 0x000f_ac06,
        /// 00-0F-AC:7: group addressed traffic not allowed.
        GroupNotAllowed = 0x000f_ac07,
        /// 00-0F-AC:8: GCMP-128.
        Gcmp128 = 0x000f_ac08,
        /// 00-0F-AC:9: GCMP-256.
        Gcmp256 = 0x000f_ac09,
        /// 00-0F-AC:10: CCMP-256.
        Ccmp256 = 0x000f_ac0a,
        /// 00-0F-AC:11: BIP-GMAC-128.
        BipGmac128 = 0x000f_ac0b,
        /// 00-0F-AC:12: BIP-GMAC-256.
        BipGmac256 = 0x000f_ac0c,
        /// 00-0F-AC:13: BIP-CMAC-256.
        BipCmac256 = 0x000f_ac0d,
    }
}

enum_with_unknown! {
    /// An AKM suite selector (IEEE 802.11-2020 9.4.2.24.3, Table 9-151), as the big-endian
    /// value of its four octets (OUI then suite type): PSK is `0x000FAC02`.
    pub enum AkmSuite(u32) {
        /// 00-0F-AC:1: IEEE 802.1X with PMKSA caching (WPA2-Enterprise).
        Ieee8021x = 0x000f_ac01,
        /// 00-0F-AC:2: PSK (WPA2-Personal).
        Psk = 0x000f_ac02,
        /// 00-0F-AC:3: FT over IEEE 802.1X.
        FtIeee8021x = 0x000f_ac03,
        /// 00-0F-AC:4: FT with PSK.
        FtPsk = 0x000f_ac04,
        /// 00-0F-AC:5: IEEE 802.1X with SHA-256 key derivation.
        Ieee8021xSha256 = 0x000f_ac05,
        /// 00-0F-AC:6: PSK with SHA-256 key derivation.
        PskSha256 = 0x000f_ac06,
        /// 00-0F-AC:7: TDLS.
        Tdls = 0x000f_ac07,
        /// 00-0F-AC:8: SAE (WPA3-Personal).
        Sae = 0x000f_ac08,
        /// 00-0F-AC:9: FT with SAE.
        FtSae = 0x000f_ac09,
        /// 00-0F-AC:11: Suite B with SHA-256.
        SuiteB = 0x000f_ac0b,
        /// 00-0F-AC:12: Suite B 192-bit.
        SuiteB192 = 0x000f_ac0c,
        /// 00-0F-AC:14: FILS with SHA-256.
        FilsSha256 = 0x000f_ac0e,
        /// 00-0F-AC:15: FILS with SHA-384.
        FilsSha384 = 0x000f_ac0f,
        /// 00-0F-AC:18: OWE.
        Owe = 0x000f_ac12,
    }
}

macro_rules! suite_bytes {
    ($name:ident) => {
        impl $name {
            /// The suite from its four wire octets (OUI, then suite type).
            pub fn from_bytes(bytes: [u8; 4]) -> Self {
                Self::from(u32::from_be_bytes(bytes))
            }

            /// The four wire octets (OUI, then suite type).
            pub fn to_bytes(self) -> [u8; 4] {
                u32::from(self).to_be_bytes()
            }

            /// The OUI (first three octets) of the selector.
            pub fn oui(self) -> [u8; 3] {
                let [a, b, c, _] = self.to_bytes();
                [a, b, c]
            }

            /// The suite type (last octet) of the selector.
            pub fn suite_type(self) -> u8 {
                self.to_bytes()[3]
            }
        }
    };
}

suite_bytes!(CipherSuite);
suite_bytes!(AkmSuite);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_unknown_values() {
        assert_eq!(ReasonCode::from(15), ReasonCode::FourWayHandshakeTimeout);
        assert_eq!(ReasonCode::from(999), ReasonCode::Unknown(999));
        assert_eq!(u16::from(ReasonCode::Unknown(999)), 999);
        assert_eq!(u16::from(StatusCode::ApUnableToHandleNewStations), 17);
        assert_eq!(StatusCode::from(53), StatusCode::InvalidPmkid);
        assert_eq!(ElementId::from(48), ElementId::Rsn);
        assert_eq!(ElementId::from(2), ElementId::Unknown(2));
    }

    #[test]
    fn suite_selectors_are_oui_then_type() {
        assert_eq!(
            CipherSuite::from_bytes([0x00, 0x0f, 0xac, 4]),
            CipherSuite::Ccmp128
        );
        assert_eq!(AkmSuite::Psk.to_bytes(), [0x00, 0x0f, 0xac, 2]);
        assert_eq!(AkmSuite::Sae.suite_type(), 8);
        assert_eq!(AkmSuite::PskSha256.oui(), IEEE80211_OUI);
        let vendor = CipherSuite::from_bytes([0x00, 0x50, 0xf2, 4]);
        assert_eq!(vendor, CipherSuite::Unknown(0x0050_f204));
        assert_eq!(vendor.to_bytes(), [0x00, 0x50, 0xf2, 4]);
    }
}
