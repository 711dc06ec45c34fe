//! The vwifi guest agent and CLI (scan, connect, status inside a VM or namespace). Not built yet: arrives with the host daemon (issue 5).
#![forbid(unsafe_code)]
