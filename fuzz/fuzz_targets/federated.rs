//! Fuzz target: `vwifi_core::testing::fuzz::federated`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vwifi_core::testing::fuzz::federated(data));
