//! Fuzz target: `vwifi_core::testing::fuzz::amsdu`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vwifi_core::testing::fuzz::amsdu(data));
