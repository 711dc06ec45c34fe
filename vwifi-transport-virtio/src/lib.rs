//! Virtio transport of vwifi for VMs: a vhost-user-net device backend and a virtio-drivers driver. Not built yet: arrives with issue 6.
#![forbid(unsafe_code)]
