//! `vwifi-host`: the vwifi host daemon and CLI.
#![forbid(unsafe_code)]

fn main() {}
