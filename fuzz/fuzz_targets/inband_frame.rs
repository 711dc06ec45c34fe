//! Fuzz target: `vwifi_core::testing::fuzz::inband_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vwifi_core::testing::fuzz::inband_frame(data));
