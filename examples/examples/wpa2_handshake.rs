//! The WPA2-PSK 4-way handshake between vwifi's own supplicant and authenticator, in one
//! process, with no radio: the PSK is derived from a passphrase as `wpa_passphrase` does, the
//! two roles exchange the four EAPOL-Key messages, the station sends a CCMP-protected frame that
//! the AP decrypts, and a station with a wrong passphrase is refused.
//!
//! Run: `cargo run -p vwifi-examples --example wpa2_handshake`

use std::process::ExitCode;
use std::time::Duration;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use vwifi_core::crypto::{ccmp, derive_psk, Gtk, Passphrase, TemporalKey};
use vwifi_core::handshake::{
    Authenticator, AuthenticatorConfig, HandshakeError, Output, RetryPolicy, Supplicant,
    SupplicantConfig,
};
use vwifi_core::wire::{DsDirection, Element, EtherType, EthernetFrame, Rsne};
use vwifi_core::{Instant, MacAddr};

const SSID: &[u8] = b"vwifi-lab";
const AP: MacAddr = MacAddr([0x02, 0x76, 0x77, 0x00, 0x00, 0x01]);
const STA: MacAddr = MacAddr([0x02, 0x76, 0x77, 0x00, 0x00, 0x02]);

/// What one handshake attempt ended with.
struct Outcome {
    sta_tk: Option<TemporalKey>,
    ap_tk: Option<TemporalKey>,
    ap_error: Option<HandshakeError>,
}

fn run(ap_pass: &str, sta_pass: &str, rng: &mut ChaCha20Rng) -> Outcome {
    let now = Instant::ZERO;
    let ap_psk = derive_psk(&Passphrase::new(ap_pass).expect("valid"), SSID).expect("valid");
    let sta_psk = derive_psk(&Passphrase::new(sta_pass).expect("valid"), SSID).expect("valid");
    let mut rsne = Vec::new();
    Element::Rsn(Rsne::wpa2_psk()).emit(&mut rsne);
    let mut ap = Authenticator::new(
        AuthenticatorConfig {
            aa: AP,
            spa: STA,
            pmk: ap_psk,
            own_rsne: rsne.clone(),
            peer_rsne: rsne.clone(),
            gtk: Gtk::generate(rng, 1).expect("key id 1"),
            gtk_rsc: 0,
            retry: RetryPolicy::default(),
        },
        now,
        rng,
    )
    .expect("WPA2-PSK is supported");
    let mut sta = Supplicant::new(
        SupplicantConfig {
            aa: AP,
            spa: STA,
            pmk: sta_psk,
            ap_rsne: rsne.clone(),
            own_rsne: rsne,
            timeout: Duration::from_secs(5),
        },
        now,
    )
    .expect("WPA2-PSK is supported");

    let mut out = Outcome {
        sta_tk: None,
        ap_tk: None,
        ap_error: None,
    };
    let mut to_sta = Vec::new();
    let mut to_ap = Vec::new();
    for _round in 0..4 {
        while let Some(o) = ap.poll_output() {
            match o {
                Output::Send(f) => to_sta.push(f),
                Output::InstallPairwise(tk) => out.ap_tk = Some(tk),
                Output::Complete => println!("  AP:      4-way handshake complete, port open"),
                Output::Failed(e) => {
                    println!(
                        "  AP:      handshake failed: {e} (deauthenticate, reason {})",
                        e.reason_code()
                    );
                    out.ap_error = Some(e);
                }
                _ => {}
            }
        }
        for f in to_sta.drain(..) {
            println!("  AP -> station: EAPOL-Key, {} bytes", f.len());
            if let Err(e) = sta.handle_eapol(now, &f, rng) {
                println!("  station: dropped a frame: {e}");
            }
        }
        while let Some(o) = sta.poll_output() {
            match o {
                Output::Send(f) => to_ap.push(f),
                Output::InstallPairwise(tk) => out.sta_tk = Some(tk),
                Output::InstallGroup { gtk, .. } => {
                    println!("  station: group key {} installed", gtk.key_id())
                }
                Output::Complete => println!("  station: 4-way handshake complete"),
                _ => {}
            }
        }
        for f in to_ap.drain(..) {
            println!("  station -> AP: EAPOL-Key, {} bytes", f.len());
            if let Err(e) = ap.handle_eapol(now, &f) {
                println!("  AP:      refused a frame: {e}");
            }
        }
    }
    // Drain what the last frames caused.
    while let Some(o) = ap.poll_output() {
        match o {
            Output::InstallPairwise(tk) => out.ap_tk = Some(tk),
            Output::Failed(e) => out.ap_error = Some(e),
            _ => {}
        }
    }
    out
}

fn main() -> ExitCode {
    let mut rng = ChaCha20Rng::seed_from_u64(2011);
    println!("vwifi: WPA2-PSK handshake, AP {AP} \"vwifi-lab\", station {STA}");

    println!("\n1. station with the right passphrase");
    let good = run(
        "correct horse battery staple",
        "correct horse battery staple",
        &mut rng,
    );
    let (Some(sta_tk), Some(ap_tk)) = (good.sta_tk, good.ap_tk) else {
        eprintln!("error: the handshake did not install keys on both sides");
        return ExitCode::FAILURE;
    };
    let eth = EthernetFrame {
        dst: MacAddr([0x02, 0x76, 0x77, 0x00, 0x00, 0x03]),
        src: STA,
        ethertype: EtherType::Ipv4,
        payload: b"hello through CCMP".to_vec().into(),
    };
    let mut mpdu = Vec::new();
    eth.to_data(DsDirection::ToAp { bssid: AP }, None)
        .emit(&mut mpdu);
    let sealed = ccmp::encrypt(&sta_tk, 0, 1, &mpdu).expect("a data frame encrypts");
    match ccmp::decrypt(&ap_tk, &sealed) {
        Ok(d) if d.mpdu == mpdu => {
            println!(
                "  data:    {} bytes sealed with CCMP (PN {}) and opened by the AP",
                sealed.len(),
                d.pn
            )
        }
        _ => {
            eprintln!("error: the AP could not decrypt the station's frame");
            return ExitCode::FAILURE;
        }
    }

    println!("\n2. station with a wrong passphrase");
    let bad = run(
        "correct horse battery staple",
        "incorrect horse battery",
        &mut rng,
    );
    match (bad.ap_error, bad.sta_tk) {
        (Some(e), None) => println!("  refused as expected: {e}"),
        _ => {
            eprintln!("error: a wrong passphrase was not refused");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
