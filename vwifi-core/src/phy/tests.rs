//! The PHY tables against IEEE 802.11-2020's rate tables and worked airtimes.

use core::time::Duration;

use super::caps::PhyCaps;
use super::channels::{center_channel, occupied, six_ghz_block, six_ghz_frequency_mhz};
use super::error_model::frame_error_probability;
use super::rate_control::RateControl;
use super::vector::{GuardInterval as Gi, McsRate, RateError, Standard, TxVector, Width};
use crate::channel::{Band, Channel};
use crate::sim::medium::PhyRate;

fn rate(standard: Standard, mcs: u8, nss: u8, width: Width, gi: Gi) -> McsRate {
    McsRate::new(standard, mcs, nss, width, gi).unwrap()
}

fn ch(n: u8) -> Channel {
    Channel::new(n).unwrap()
}

#[test]
fn ht_rates_match_table_19_27_ff() {
    use Standard::Ht;
    // Table 19-27 (20 MHz, 1 stream): MCS 0 6.5/7.2, MCS 7 65/72.2 Mbit/s.
    assert_eq!(rate(Ht, 0, 1, Width::Mhz20, Gi::Normal800).kbps(), 6_500);
    assert_eq!(rate(Ht, 0, 1, Width::Mhz20, Gi::Short400).kbps(), 7_222);
    assert_eq!(rate(Ht, 7, 1, Width::Mhz20, Gi::Normal800).kbps(), 65_000);
    assert_eq!(rate(Ht, 7, 1, Width::Mhz20, Gi::Short400).kbps(), 72_222);
    // Table 19-28 (40 MHz, 1 stream): MCS 7 135/150.
    assert_eq!(rate(Ht, 7, 1, Width::Mhz40, Gi::Normal800).kbps(), 135_000);
    assert_eq!(rate(Ht, 7, 1, Width::Mhz40, Gi::Short400).kbps(), 150_000);
    // Table 19-30 (40 MHz, 2 streams): MCS 15 270/300; 4 streams MCS 31: 540/600.
    assert_eq!(rate(Ht, 7, 2, Width::Mhz40, Gi::Short400).kbps(), 300_000);
    assert_eq!(rate(Ht, 7, 4, Width::Mhz40, Gi::Short400).kbps(), 600_000);
    assert_eq!(
        McsRate::new(Ht, 8, 1, Width::Mhz20, Gi::Normal800),
        Err(RateError::Mcs {
            standard: Ht,
            mcs: 8,
            max: 7
        })
    );
    assert!(McsRate::new(Ht, 7, 1, Width::Mhz80, Gi::Normal800).is_err());
    assert!(McsRate::new(Ht, 7, 1, Width::Mhz20, Gi::He1600).is_err());
}

#[test]
fn vht_rates_match_tables_21_30_to_21_61() {
    use Standard::Vht;
    // 80 MHz, 2 streams, MCS 9: 780 / 866.7 Mbit/s (Table 21-47).
    assert_eq!(rate(Vht, 9, 2, Width::Mhz80, Gi::Short400).kbps(), 866_667);
    assert_eq!(rate(Vht, 9, 2, Width::Mhz80, Gi::Normal800).kbps(), 780_000);
    // 20 MHz, 1 stream, MCS 8: 78 / 86.7 (Table 21-30).
    assert_eq!(rate(Vht, 8, 1, Width::Mhz20, Gi::Normal800).kbps(), 78_000);
    // 80 MHz, 1 stream, MCS 9: 390 / 433.3 (Table 21-46).
    assert_eq!(rate(Vht, 9, 1, Width::Mhz80, Gi::Short400).kbps(), 433_333);
    // 160 MHz, 4 streams, MCS 9: 3466.7 with the short GI (Table 21-61... 4 streams).
    assert_eq!(
        rate(Vht, 9, 4, Width::Mhz160, Gi::Short400).kbps(),
        3_466_667
    );
    // The combinations the standard leaves out.
    for (mcs, nss, width) in [
        (9, 1, Width::Mhz20),
        (9, 2, Width::Mhz20),
        (9, 4, Width::Mhz20),
        (6, 3, Width::Mhz80),
        (9, 3, Width::Mhz160),
    ] {
        assert_eq!(
            McsRate::new(Vht, mcs, nss, width, Gi::Normal800),
            Err(RateError::VhtCombination { mcs, nss, width })
        );
    }
    // ... while 20 MHz MCS 9 with 3 streams exists: 260 / 288.9.
    assert_eq!(rate(Vht, 9, 3, Width::Mhz20, Gi::Normal800).kbps(), 260_000);
}

#[test]
fn he_rates_match_tables_27_55_ff() {
    use Standard::He;
    // 80 MHz (996-tone RU), 2 streams, MCS 11, 0.8 µs GI: 1201 Mbit/s.
    assert_eq!(
        rate(He, 11, 2, Width::Mhz80, Gi::Normal800).kbps(),
        1_200_980
    );
    // 1 stream: 600.5; 1.6 µs GI 567.1; 3.2 µs 510.4.
    assert_eq!(rate(He, 11, 1, Width::Mhz80, Gi::Normal800).kbps(), 600_490);
    assert_eq!(rate(He, 11, 1, Width::Mhz80, Gi::He1600).kbps(), 567_130);
    assert_eq!(rate(He, 11, 1, Width::Mhz80, Gi::He3200).kbps(), 510_417);
    // 20 MHz (242-tone RU), 1 stream: MCS 0 8.6, MCS 11 143.4.
    assert_eq!(rate(He, 0, 1, Width::Mhz20, Gi::Normal800).kbps(), 8_603);
    assert_eq!(rate(He, 11, 1, Width::Mhz20, Gi::Normal800).kbps(), 143_382);
    // 160 MHz, 4 streams, MCS 11: 4803.9.
    assert_eq!(
        rate(He, 11, 4, Width::Mhz160, Gi::Normal800).kbps(),
        4_803_922
    );
    assert!(McsRate::new(He, 11, 1, Width::Mhz80, Gi::Short400).is_err());
    assert!(McsRate::new(He, 12, 1, Width::Mhz80, Gi::Normal800).is_err());
    assert_eq!(
        McsRate::new(He, 0, 5, Width::Mhz20, Gi::Normal800),
        Err(RateError::Streams(5))
    );
}

#[test]
fn airtime_counts_each_format_s_preamble_and_symbols() {
    // HT MCS 7, 20 MHz, long GI, 1500 bytes at 5 GHz: 36 µs of preamble (20 legacy + HT-SIG 8
    // + HT-STF 4 + one HT-LTF 4) and ceil((16 + 12000 + 6) / 260) = 47 symbols of 4 µs.
    let ht = rate(Standard::Ht, 7, 1, Width::Mhz20, Gi::Normal800);
    assert_eq!(
        ht.airtime(1500, Band::Ghz5),
        Duration::from_micros(36 + 188)
    );
    // ... plus the 6 µs signal extension at 2.4 GHz.
    assert_eq!(ht.airtime(1500, Band::Ghz2_4), Duration::from_micros(230));
    // Short GI: 47 symbols of 3.6 µs = 169.2 µs, rounded up to whole 4 µs: 172.
    let ht_sgi = rate(Standard::Ht, 7, 1, Width::Mhz20, Gi::Short400);
    assert_eq!(
        ht_sgi.airtime(1500, Band::Ghz5),
        Duration::from_micros(36 + 172)
    );
    // VHT MCS 9, 80 MHz, 2 streams, short GI: 44 µs of preamble (20 + SIG-A 8 + STF 4 + two
    // LTFs 8 + SIG-B 4); 3120 bits per symbol, two encoders: ceil(12028 / 3120) = 4 symbols of
    // 3.6 µs = 14.4, rounded to 16.
    let vht = rate(Standard::Vht, 9, 2, Width::Mhz80, Gi::Short400);
    assert_eq!(
        vht.airtime(1500, Band::Ghz5),
        Duration::from_micros(44 + 16)
    );
    // HE MCS 11, 80 MHz, 2 streams, 0.8 µs GI: 20 + RL-SIG 4 + SIG-A 8 + STF 4 + two 2x
    // LTFs of 7.2 = 50.4 µs; 16333 bits per symbol: one symbol of 13.6 µs. 64 µs in all.
    let he = rate(Standard::He, 11, 2, Width::Mhz80, Gi::Normal800);
    assert_eq!(he.airtime(1500, Band::Ghz5), Duration::from_micros(64));
    // A 64 KB A-MPDU-sized PSDU: ceil(524304 / 16333) = 33 symbols: 50.4 + 448.8 = 499.2.
    assert_eq!(he.airtime(65_536, Band::Ghz5), Duration::from_micros(500));
    // The legacy vector is the legacy airtime.
    assert_eq!(
        TxVector::Legacy(PhyRate::Ofdm54).airtime(1534, Band::Ghz5),
        PhyRate::Ofdm54.airtime(1534, Band::Ghz5)
    );
    // The Ack after a dense MCS goes at 24 Mbit/s, after BPSK at 6.
    assert_eq!(he.control_response_rate(), PhyRate::Ofdm24);
    let mcs0 = rate(Standard::He, 0, 1, Width::Mhz20, Gi::Normal800);
    assert_eq!(mcs0.control_response_rate(), PhyRate::Ofdm6);
}

#[test]
fn channel_plans_place_wide_channels() {
    // 2.4 GHz: HT40+ below channel 10, HT40- from it; no 80 MHz.
    assert_eq!(occupied(ch(1), Width::Mhz40).unwrap(), [ch(1), ch(5)]);
    assert_eq!(occupied(ch(11), Width::Mhz40).unwrap(), [ch(11), ch(7)]);
    assert!(occupied(ch(14), Width::Mhz40).is_err());
    assert_eq!(
        occupied(ch(6), Width::Mhz80).unwrap_err().to_string(),
        "80 MHz channels do not exist in the 2.4 GHz band"
    );
    // 5 GHz blocks.
    assert_eq!(
        occupied(ch(44), Width::Mhz80).unwrap(),
        [ch(44), ch(36), ch(40), ch(48)]
    );
    assert_eq!(occupied(ch(60), Width::Mhz160).unwrap().len(), 8);
    assert_eq!(occupied(ch(157), Width::Mhz40).unwrap(), [ch(157), ch(161)]);
    assert!(occupied(ch(149), Width::Mhz160).is_err());
    assert!(occupied(ch(165), Width::Mhz40).is_err());
    assert_eq!(center_channel(ch(36), Width::Mhz80).unwrap(), 42);
    assert_eq!(center_channel(ch(36), Width::Mhz160).unwrap(), 50);
    assert_eq!(center_channel(ch(149), Width::Mhz80).unwrap(), 155);
    // 6 GHz: 5950 + 5 n MHz, blocks aligned on channel 1.
    assert_eq!(six_ghz_frequency_mhz(1), Some(5955));
    assert_eq!(six_ghz_frequency_mhz(233), Some(7115));
    assert_eq!(six_ghz_frequency_mhz(3), None);
    assert_eq!(six_ghz_block(37, Width::Mhz80).unwrap(), [37, 33, 41, 45]);
    assert_eq!(six_ghz_block(5, Width::Mhz40).unwrap(), [5, 1]);
    assert!(six_ghz_block(229, Width::Mhz160).is_err());
}

#[test]
fn capabilities_negotiate_the_common_part() {
    let ap_ac = PhyCaps {
        standard: Standard::Vht,
        width: Width::Mhz80,
        nss: 2,
    };
    let sta = PhyCaps::STATION_DEFAULT;
    assert_eq!(sta.common(&ap_ac, ch(36)), ap_ac);
    // A legacy AP makes a legacy link.
    assert_eq!(sta.common(&PhyCaps::LEGACY, ch(1)), PhyCaps::LEGACY);
    // 802.11ac caps at 2.4 GHz fall back to HT 40.
    let at_24 = sta.common(&ap_ac, ch(1));
    assert_eq!(at_24.standard, Standard::Ht);
    assert_eq!(at_24.width, Width::Mhz40);
    // On channel 165 even an 80 MHz pair runs at 20 MHz.
    assert_eq!(sta.common(&ap_ac, ch(165)).width, Width::Mhz20);
    assert!(ap_ac.check_on(ch(1)).is_err());
    assert!(ap_ac.check_on(ch(36)).is_ok());
    let top = PhyCaps {
        standard: Standard::He,
        width: Width::Mhz80,
        nss: 2,
    }
    .top_rate();
    assert_eq!(top.kbps(), 1_200_980);
    assert_eq!(PhyCaps::LEGACY.top_rate().kbps(), 54_000);
}

#[test]
fn denser_and_wider_rates_need_more_snr() {
    let snr_for_half = |r: McsRate| {
        (0..600)
            .map(|t| f64::from(t) / 10.0)
            .find(|&snr| frame_error_probability(&TxVector::Mcs(r), snr, 1000) <= 0.5)
            .unwrap()
    };
    let mcs7_20 = snr_for_half(rate(Standard::He, 7, 1, Width::Mhz20, Gi::Normal800));
    let mcs11_20 = snr_for_half(rate(Standard::He, 11, 1, Width::Mhz20, Gi::Normal800));
    let mcs11_80 = snr_for_half(rate(Standard::He, 11, 1, Width::Mhz80, Gi::Normal800));
    let mcs11_80_2 = snr_for_half(rate(Standard::He, 11, 2, Width::Mhz80, Gi::Normal800));
    assert!(mcs7_20 < mcs11_20);
    assert!(
        (mcs11_80 - mcs11_20 - 6.0).abs() < 0.2,
        "{mcs11_80} {mcs11_20}"
    );
    assert!((mcs11_80_2 - mcs11_80 - 3.0).abs() < 0.2);
}

/// Runs `frames` frames through a controller on a link whose attempts succeed with the error
/// model's probability at `snr_db`; returns the rate it settles on.
fn settle(caps: &PhyCaps, snr_db: f64, frames: u32) -> McsRate {
    let mut rc = RateControl::new(caps).unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut draw = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..frames {
        let chosen = rc.select(draw() as u32);
        for attempt in 1..=7u8 {
            let r = rc.retry_rate(chosen, attempt);
            let p = frame_error_probability(&TxVector::Mcs(r), snr_db, 1500);
            let ok = (draw() >> 11) as f64 / (1u64 << 53) as f64 >= p;
            rc.report(r, ok);
            if ok {
                break;
            }
        }
    }
    rc.current()
}

#[test]
fn rate_control_climbs_with_snr_and_falls_with_distance() {
    let caps = PhyCaps {
        standard: Standard::He,
        width: Width::Mhz80,
        nss: 2,
    };
    let near = settle(&caps, 60.0, 2000);
    assert_eq!((near.mcs, near.nss), (11, 2), "{near}");
    let mid = settle(&caps, 30.0, 2000);
    let far = settle(&caps, 15.0, 2000);
    assert!(mid.kbps() < near.kbps(), "{mid}");
    assert!(far.kbps() < mid.kbps(), "{far} vs {mid}");
    assert!(far.kbps() > 0);
    assert!(RateControl::new(&PhyCaps::LEGACY).is_none());
}
