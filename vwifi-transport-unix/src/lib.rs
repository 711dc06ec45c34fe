//! Unix-socket transport of vwifi's guest protocol (containers, namespaces, local guests). Not built yet: arrives with the host daemon (issue 5).
#![forbid(unsafe_code)]
