//! Numbers of the nl80211 API (`include/uapi/linux/nl80211.h`), named as there without the
//! `NL80211_` prefix: the commands and attributes `neli-wifi` does not name, and the nested
//! attributes vwifi parses itself.
#![allow(dead_code)]

pub(crate) const CMD_GET_WIPHY: u8 = 1;
pub(crate) const CMD_GET_INTERFACE: u8 = 5;
pub(crate) const CMD_NEW_INTERFACE: u8 = 7;
pub(crate) const CMD_DEL_INTERFACE: u8 = 8;
pub(crate) const CMD_NEW_KEY: u8 = 11;
pub(crate) const CMD_SET_KEY: u8 = 10;
pub(crate) const CMD_GET_STATION: u8 = 17;
pub(crate) const CMD_SET_STATION: u8 = 18;
pub(crate) const CMD_GET_SCAN: u8 = 32;
pub(crate) const CMD_TRIGGER_SCAN: u8 = 33;
pub(crate) const CMD_NEW_SCAN_RESULTS: u8 = 34;
pub(crate) const CMD_SCAN_ABORTED: u8 = 35;
pub(crate) const CMD_CONNECT: u8 = 46;
pub(crate) const CMD_DISCONNECT: u8 = 48;
pub(crate) const CMD_DEAUTHENTICATE: u8 = 39;
pub(crate) const CMD_DISASSOCIATE: u8 = 40;
pub(crate) const CMD_CONTROL_PORT_FRAME: u8 = 129;
pub(crate) const CMD_CONTROL_PORT_FRAME_TX_STATUS: u8 = 139;
pub(crate) const CMD_NOTIFY_CQM: u8 = 64;
pub(crate) const CMD_ROAM: u8 = 47;
pub(crate) const CMD_NEW_STATION: u8 = 19;
pub(crate) const CMD_DEL_STATION: u8 = 20;
pub(crate) const CMD_AUTHENTICATE: u8 = 37;
pub(crate) const CMD_ASSOCIATE: u8 = 38;
pub(crate) const CMD_UNPROT_DEAUTHENTICATE: u8 = 70;
pub(crate) const CMD_UNPROT_DISASSOCIATE: u8 = 71;
pub(crate) const CMD_NEW_WIPHY: u8 = 3;
pub(crate) const CMD_CONN_FAILED: u8 = 91;
pub(crate) const ATTR_WIPHY: u16 = 1;
pub(crate) const ATTR_WIPHY_NAME: u16 = 2;
pub(crate) const ATTR_IFINDEX: u16 = 3;
pub(crate) const ATTR_IFNAME: u16 = 4;
pub(crate) const ATTR_IFTYPE: u16 = 5;
pub(crate) const ATTR_MAC: u16 = 6;
pub(crate) const ATTR_KEY_DATA: u16 = 7;
pub(crate) const ATTR_KEY_IDX: u16 = 8;
pub(crate) const ATTR_KEY_CIPHER: u16 = 9;
pub(crate) const ATTR_KEY_SEQ: u16 = 10;
pub(crate) const ATTR_KEY_DEFAULT: u16 = 11;
pub(crate) const ATTR_STA_FLAGS2: u16 = 67;
pub(crate) const ATTR_WIPHY_BANDS: u16 = 22;
pub(crate) const ATTR_SUPPORTED_IFTYPES: u16 = 32;
pub(crate) const ATTR_SSID: u16 = 52;
pub(crate) const ATTR_SCAN_SSIDS: u16 = 45;
pub(crate) const ATTR_SCAN_FREQUENCIES: u16 = 44;
pub(crate) const ATTR_BSS: u16 = 47;
pub(crate) const ATTR_IE: u16 = 42;
pub(crate) const ATTR_CIPHER_SUITES: u16 = 57;
pub(crate) const ATTR_CIPHER_SUITES_PAIRWISE: u16 = 73;
pub(crate) const ATTR_CIPHER_SUITE_GROUP: u16 = 74;
pub(crate) const ATTR_WPA_VERSIONS: u16 = 75;
pub(crate) const ATTR_AKM_SUITES: u16 = 76;
pub(crate) const ATTR_WIPHY_FREQ: u16 = 38;
pub(crate) const ATTR_PRIVACY: u16 = 70;
pub(crate) const ATTR_CONTROL_PORT: u16 = 68;
pub(crate) const ATTR_CONTROL_PORT_ETHERTYPE: u16 = 102;
pub(crate) const ATTR_CONTROL_PORT_NO_ENCRYPT: u16 = 103;
pub(crate) const ATTR_CONTROL_PORT_OVER_NL80211: u16 = 264;
pub(crate) const ATTR_SOCKET_OWNER: u16 = 204;
pub(crate) const ATTR_FRAME: u16 = 51;
pub(crate) const ATTR_STATUS_CODE: u16 = 72;
pub(crate) const ATTR_REASON_CODE: u16 = 54;
pub(crate) const ATTR_DISCONNECTED_BY_AP: u16 = 71;
pub(crate) const ATTR_TIMED_OUT: u16 = 65;
pub(crate) const ATTR_INTERFACE_COMBINATIONS: u16 = 120;
pub(crate) const ATTR_MAX_NUM_SCAN_SSIDS: u16 = 43;
pub(crate) const ATTR_KEY: u16 = 80;
pub(crate) const ATTR_KEY_TYPE: u16 = 55;
pub(crate) const ATTR_STA_INFO: u16 = 21;
pub(crate) const ATTR_AUTH_TYPE: u16 = 53;
pub(crate) const ATTR_SPLIT_WIPHY_DUMP: u16 = 174;
pub(crate) const ATTR_EXT_FEATURES: u16 = 217;
pub(crate) const ATTR_CONTROL_PORT_NO_PREAUTH: u16 = 286;
pub(crate) const ATTR_GENERATION: u16 = 46;
pub(crate) const ATTR_WDEV: u16 = 153;
pub(crate) const ATTR_4ADDR: u16 = 83;
pub(crate) const ATTR_MAX_NUM_SCHED_SCAN_SSIDS: u16 = 123;
pub(crate) const ATTR_COOKIE: u16 = 88;
pub(crate) const ATTR_ACK: u16 = 92;
pub(crate) const ATTR_DONT_WAIT_FOR_ACK: u16 = 142;
pub(crate) const ATTR_CQM: u16 = 94;
pub(crate) const ATTR_RESP_IE: u16 = 78;
pub(crate) const ATTR_REQ_IE: u16 = 77;
pub(crate) const BSS_BSSID: u16 = 1;
pub(crate) const BSS_FREQUENCY: u16 = 2;
pub(crate) const BSS_CAPABILITY: u16 = 5;
pub(crate) const BSS_INFORMATION_ELEMENTS: u16 = 6;
pub(crate) const BSS_BEACON_IES: u16 = 11;
pub(crate) const BSS_SIGNAL_MBM: u16 = 7;
pub(crate) const BSS_SEEN_MS_AGO: u16 = 10;
pub(crate) const BSS_STATUS: u16 = 9;
pub(crate) const BAND_ATTR_FREQS: u16 = 1;
pub(crate) const FREQUENCY_ATTR_FREQ: u16 = 1;
pub(crate) const FREQUENCY_ATTR_DISABLED: u16 = 2;
pub(crate) const IFACE_COMB_LIMITS: u16 = 1;
pub(crate) const IFACE_COMB_MAXNUM: u16 = 2;
pub(crate) const IFACE_COMB_NUM_CHANNELS: u16 = 4;
pub(crate) const IFACE_LIMIT_MAX: u16 = 1;
pub(crate) const IFACE_LIMIT_TYPES: u16 = 2;
pub(crate) const KEY_DATA: u16 = 1;
pub(crate) const KEY_IDX: u16 = 2;
pub(crate) const KEY_CIPHER: u16 = 3;
pub(crate) const KEY_SEQ: u16 = 4;
pub(crate) const KEY_DEFAULT: u16 = 5;
pub(crate) const KEY_TYPE: u16 = 7;
pub(crate) const KEY_DEFAULT_TYPES: u16 = 8;
pub(crate) const KEY_DEFAULT_TYPE_UNICAST: u16 = 1;
pub(crate) const KEY_DEFAULT_TYPE_MULTICAST: u16 = 2;
pub(crate) const KEYTYPE_GROUP: u16 = 0;
pub(crate) const KEYTYPE_PAIRWISE: u16 = 1;
pub(crate) const STA_FLAG_AUTHORIZED: u16 = 1;
pub(crate) const STA_INFO_SIGNAL: u16 = 7;
pub(crate) const STA_INFO_TX_BITRATE: u16 = 8;
pub(crate) const RATE_INFO_BITRATE32: u16 = 5;
pub(crate) const RATE_INFO_BITRATE: u16 = 1;
pub(crate) const STA_INFO_RX_PACKETS: u16 = 9;
pub(crate) const STA_INFO_TX_PACKETS: u16 = 10;
pub(crate) const STA_INFO_RX_BYTES: u16 = 2;
pub(crate) const STA_INFO_TX_BYTES: u16 = 3;
pub(crate) const IFTYPE_STATION: u16 = 2;
pub(crate) const IFTYPE_AP: u16 = 3;
pub(crate) const IFTYPE_MONITOR: u16 = 6;
pub(crate) const IFTYPE_P2P_DEVICE: u16 = 10;
pub(crate) const IFTYPE_P2P_CLIENT: u16 = 8;
pub(crate) const IFTYPE_P2P_GO: u16 = 9;
pub(crate) const IFTYPE_ADHOC: u16 = 1;
pub(crate) const IFTYPE_MESH_POINT: u16 = 7;
pub(crate) const EXT_FEATURE_CONTROL_PORT_OVER_NL80211: u16 = 26;
pub(crate) const AUTHTYPE_OPEN_SYSTEM: u16 = 0;
pub(crate) const WPA_VERSION_2: u16 = 2;

/// The cipher suite selector of CCMP-128 (00-0F-AC:4).
pub(crate) const CIPHER_CCMP: u32 = 0x000f_ac04;
/// The AKM suite selector of PSK (00-0F-AC:2).
pub(crate) const AKM_PSK: u32 = 0x000f_ac02;
/// The EtherType of EAPOL.
pub(crate) const ETH_P_PAE: u16 = 0x888e;

/// `NL80211_ATTR_USE_MFP`: the association uses management frame protection.
pub(crate) const ATTR_USE_MFP: u16 = 66;
/// `NL80211_ATTR_AUTH_DATA` (formerly `SAE_DATA`): the authentication frame's body after the
/// algorithm number (transaction sequence number, status code, then the SAE fields).
pub(crate) const ATTR_AUTH_DATA: u16 = 156;
/// `NL80211_AUTHTYPE_SAE`.
pub(crate) const AUTHTYPE_SAE: u16 = 4;
/// `NL80211_MFP_REQUIRED`.
pub(crate) const MFP_REQUIRED: u32 = 1;
/// The cipher suite selector of BIP-CMAC-128 (00-0F-AC:6), the IGTK's.
pub(crate) const CIPHER_BIP_CMAC_128: u32 = 0x000f_ac06;
/// The AKM suite selector of SAE (00-0F-AC:8).
pub(crate) const AKM_SAE: u32 = 0x000f_ac08;
