//! The guest protocol over `AF_VSOCK`: a VM's agent reaches the host daemon without any
//! network inside the VM. With QEMU's `vhost-vsock` (or `vhost-user-vsock` and
//! `vhost-device-vsock`, whose connections from the guest to port P arrive on the Unix socket
//! `<uds-path>_P`, which is then the daemon's guest socket), the host is context id
//! [`VMADDR_CID_HOST`] (2).

use std::io;

use tokio_vsock::{OwnedReadHalf, OwnedWriteHalf, VsockAddr, VsockStream};
use vwifi_core::io::PeerInfo;

use crate::{Error, LinkConfig, StreamLink};

/// The context id of the host, as seen from a VM.
pub const VMADDR_CID_HOST: u32 = tokio_vsock::VMADDR_CID_HOST;

/// A [`StreamLink`] over a vsock stream.
pub type VsockLink = StreamLink<OwnedReadHalf, OwnedWriteHalf>;

/// Connects to `port` of the vsock context `cid` (usually [`VMADDR_CID_HOST`]): the guest side
/// of a vsock link. The link's peer is that context and port.
pub async fn connect_vsock(cid: u32, port: u32, config: LinkConfig) -> Result<VsockLink, Error> {
    let stream = VsockStream::connect(VsockAddr::new(cid, port))
        .await
        .map_err(|source| Error::ConnectVsock { cid, port, source })?;
    let (reader, writer) = stream.into_split();
    Ok(StreamLink::from_halves(
        reader,
        writer,
        PeerInfo::Vsock { cid, port },
        config,
    ))
}

/// Parses `CID:PORT` (decimal; `host` stands for context id 2) as given on a command line.
pub fn parse_vsock_addr(text: &str) -> Result<(u32, u32), io::Error> {
    let bad = |what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} in {text:?}: expected CID:PORT, e.g. host:5000 or 2:5000"),
        )
    };
    let (cid, port) = text.split_once(':').ok_or_else(|| bad("no ':'"))?;
    let cid = if cid == "host" {
        VMADDR_CID_HOST
    } else {
        cid.parse().map_err(|_| bad("a bad context id"))?
    };
    let port = port.parse().map_err(|_| bad("a bad port"))?;
    Ok((cid, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vsock_addresses_parse_with_host_as_cid_2() {
        assert_eq!(parse_vsock_addr("host:5000").unwrap(), (2, 5000));
        assert_eq!(parse_vsock_addr("3:1234").unwrap(), (3, 1234));
        for bad in ["5000", "x:1", "2:", "2:99999999999", ":5"] {
            let e = parse_vsock_addr(bad).unwrap_err();
            assert!(e.to_string().contains("CID:PORT"), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn a_refused_vsock_connection_names_the_address() {
        // No VM and no listener here: connecting to the local context's unused port fails
        // (ENODEV without the vsock module, ECONNRESET/ECONNREFUSED with it); either way the
        // error must say which address could not be reached.
        let e = connect_vsock(1, 4_000_000_123, LinkConfig::default())
            .await
            .map(|_| ())
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("vsock cid 1 port 4000000123"), "{text}");
    }
}
