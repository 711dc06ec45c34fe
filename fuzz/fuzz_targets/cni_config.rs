//! Fuzz target: `vwifi_cni::fuzz_config` (the CNI plugin's network configuration and results).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vwifi_cni::fuzz_config(data));
