//! Radios of VMs relayed by `vwifi-guest radio` ([`crate::ports::relay`]): the VM's kernel's
//! hwsim messages arrive as they are, with the family id the VM's kernel gave; they are parsed
//! here with the host's own parser and their radio renamed so that radios of different VMs
//! (each VM numbers its radios from 0) are different nodes: a relayed radio `42:00:00:NN:NN:00`
//! of relay link L is `42:LL:00:NN:NN:00` on the air (hwsim's own radios have 0 there). What
//! the air has for it goes back to the VM with its name restored, built for the VM's family.

use bytes::Bytes;
use tokio::sync::mpsc;
use vwifi_core::MacAddr;

use super::msg::{FromKernel, MsgError, ToKernel};

/// One VM's relay link.
#[derive(Debug)]
pub(crate) struct Relay {
    /// The guest's name (for the status and logs).
    pub(crate) name: String,
    /// The VM kernel's hwsim family id.
    pub(crate) family: u16,
    /// Messages for the VM's kernel (bounded: a VM that stops reading loses them, counted).
    pub(crate) tx: mpsc::Sender<Bytes>,
    /// Sequence numbers of what goes to the VM.
    pub(crate) seq: u32,
    /// Messages for the VM that were dropped (its queue full).
    pub(crate) dropped: u64,
}

/// The relay link a radio name on the air belongs to (0: a radio of this host's kernel).
pub(crate) fn relay_of(radio: MacAddr) -> u8 {
    radio.octets()[1]
}

/// The name on the air of the VM radio `radio` of relay link `id`.
pub(crate) fn on_air(radio: MacAddr, id: u8) -> MacAddr {
    let mut o = radio.octets();
    o[1] = id;
    MacAddr::from(o)
}

/// The VM's own name of a radio named `radio` on the air.
pub(crate) fn in_vm(radio: MacAddr) -> MacAddr {
    on_air(radio, 0)
}

/// The messages of one datagram from a VM, their radio renamed for relay link `id`.
pub(crate) fn from_vm(datagram: &[u8], family: u16, id: u8) -> Vec<Result<FromKernel, MsgError>> {
    super::msg::parse_datagram(datagram, family)
        .into_iter()
        .map(|m| {
            m.map(|m| match m {
                FromKernel::Frame(mut f) => {
                    f.radio = on_air(f.radio, id);
                    FromKernel::Frame(f)
                }
                FromKernel::AddMacAddr { radio, addr } => FromKernel::AddMacAddr {
                    radio: on_air(radio, id),
                    addr,
                },
                FromKernel::DelMacAddr { radio, addr } => FromKernel::DelMacAddr {
                    radio: on_air(radio, id),
                    addr,
                },
                other => other,
            })
        })
        .collect()
}

/// The radio a message for a kernel goes to (its name on the air).
pub(crate) fn radio_of(m: &ToKernel) -> MacAddr {
    match m {
        ToKernel::Frame { radio, .. } | ToKernel::TxInfo { radio, .. } => *radio,
    }
}

/// `m` with the VM's own name of its radio.
pub(crate) fn to_vm(mut m: ToKernel) -> ToKernel {
    match &mut m {
        ToKernel::Frame { radio, .. } | ToKernel::TxInfo { radio, .. } => *radio = in_vm(*radio),
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vm_radio_is_renamed_on_the_air_and_back() {
        let vm = MacAddr::from([0x42, 0, 0, 0, 3, 0]);
        let air = on_air(vm, 7);
        assert_eq!(air.to_string(), "42:07:00:00:03:00");
        assert_eq!(relay_of(air), 7);
        assert_eq!(relay_of(vm), 0);
        assert_eq!(in_vm(air), vm);
        assert_eq!(super::super::radio_index(air), 3);
        let m = ToKernel::TxInfo {
            radio: air,
            flags: 0,
            cookie: 1,
            signal_dbm: -50,
            rates: super::super::msg::TxRates::NONE,
        };
        assert_eq!(radio_of(&to_vm(m)), vm);
    }

    #[test]
    fn garbage_from_a_vm_is_an_error_never_a_panic() {
        for bytes in [&[][..], &[1, 2, 3], &[0xff; 40]] {
            for m in from_vm(bytes, 0x22, 1) {
                assert!(m.is_err() || matches!(m, Ok(FromKernel::Other { .. })));
            }
        }
    }
}
