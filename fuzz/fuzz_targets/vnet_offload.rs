//! Fuzz target: `vwifi_core::testing::fuzz::vnet_offload` (virtio-net header and segmentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vwifi_core::testing::fuzz::vnet_offload(data));
