//! `org.vifkit.Pairings1`: the registry's NIC attachments (each guest NIC's PV backend
//! and, for an `ioemu` NIC, its emulated twin), looked up by domain and device id, by
//! device name or by MAC; signals for every pairing recorded or dropped by any process.
//! Answers come from the watcher's latest snapshot ([`super::cache`]).

use std::collections::HashMap;
use std::sync::Arc;

use hostnet::netlink::Netlink;

use zbus::interface;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;

use super::dicts::{self, Dict};
use super::error::ServiceError;
use super::{limits, Shared};
use registry::{parse_if_name, parse_mac, Attachment, Driver};

/// The `org.vifkit.Pairings1` interface.
#[derive(Debug)]
pub struct Pairings {
    pub(super) shared: Arc<Shared>,
}

fn found(a: Option<&Attachment>, what: impl FnOnce() -> String) -> Result<Dict, ServiceError> {
    a.map(dicts::attachment)
        .ok_or_else(|| ServiceError::NotFound(format!("No pairing for {}", what())))
}

fn short(arg: &str, what: &str) -> Result<(), ServiceError> {
    if arg.len() > limits::MAX_NAME {
        return Err(ServiceError::TooLarge(format!(
            "The {what} is {} bytes long; at most {} are taken",
            arg.len(),
            limits::MAX_NAME
        )));
    }
    Ok(())
}

#[interface(name = "org.vifkit.Pairings1")]
impl Pairings {
    /// Every pairing, Xen's first, by domain id then device id. Keys: `driver` (s, `xen`
    /// or `qemu`), `domain` (s), `domid` (u), `devid` (u), `backend` (s), `mac` (s),
    /// `bridge` (s), `state` (s), and when known `uuid`, `emulated`, `vlan`,
    /// `guest_name`, `model` (s).
    ///
    /// (The unused header makes zbus check the call's arguments: for a method without
    /// any input it reads no body at all, so extra arguments went unnoticed.)
    async fn list(&self, #[zbus(header)] _args_checked: Header<'_>) -> Vec<Dict> {
        self.shared
            .pairings
            .get()
            .all()
            .map(dicts::attachment)
            .collect()
    }

    /// The pairing of device `devid` of `driver`'s (`xen` or `qemu`) domain `domid`: a
    /// domain id names a domain only within its driver.
    async fn lookup(&self, driver: &str, domid: u32, devid: u32) -> Result<Dict, ServiceError> {
        short(driver, "driver")?;
        let driver = driver
            .parse::<Driver>()
            .map_err(|e| ServiceError::InvalidArgs(super::error::chain(&e)))?;
        found(
            self.shared.pairings.get().by_id(driver, domid, devid),
            || format!("{} domain {domid} device {devid}", driver.label()),
        )
    }

    /// The pairing whose PV backend or emulated twin is the device `ifname`.
    async fn lookup_by_device(&self, ifname: &str) -> Result<Dict, ServiceError> {
        short(ifname, "device name")?;
        let dev = parse_if_name("device name", ifname)
            .map_err(|e| ServiceError::InvalidArgs(super::error::chain(&e)))?;
        found(self.shared.pairings.get().by_device(&dev), || {
            format!("device {dev}")
        })
    }

    /// The pairing with this MAC.
    async fn lookup_by_mac(&self, mac: &str) -> Result<Dict, ServiceError> {
        short(mac, "MAC")?;
        let mac = parse_mac("MAC", mac)
            .map_err(|e| ServiceError::InvalidArgs(super::error::chain(&e)))?;
        found(self.shared.pairings.get().by_mac(mac), || {
            format!("MAC {mac}")
        })
    }

    /// Each recorded guest NIC device's traffic counters, as the host counts them
    /// (netlink's `IFLA_STATS64`, read when the property is read): device name ->
    /// `rx_bytes`, `rx_packets`, `rx_dropped`, `rx_errors`, `tx_bytes`, `tx_packets`,
    /// `tx_dropped`, `tx_errors` (t). `rx` is what the guest sent. Devices not on the
    /// host are left out. It changes all the time, so it emits no `PropertiesChanged`:
    /// poll it.
    #[zbus(property(emits_changed_signal = "false"))]
    async fn counters(&self) -> zbus::fdo::Result<HashMap<String, HashMap<String, u64>>> {
        let devices: Vec<String> = self
            .shared
            .pairings
            .get()
            .all()
            .flat_map(|a| {
                std::iter::once(a.backend.to_string())
                    .chain(a.emulated.as_ref().map(ToString::to_string))
            })
            .collect();
        let links = self
            .shared
            .store
            .work(move || {
                let nl = Netlink::new().map_err(|e| ServiceError::Host(super::error::chain(&e)))?;
                nl.links_with_counters()
                    .map_err(|e| ServiceError::Host(super::error::chain(&e)))
            })
            .await
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))?;
        let mut out = HashMap::new();
        for l in links {
            let Some(c) = l.counters else { continue };
            if !devices.contains(&l.name) {
                continue;
            }
            out.insert(
                l.name,
                HashMap::from([
                    ("rx_bytes".to_owned(), c.rx_bytes),
                    ("rx_packets".to_owned(), c.rx_packets),
                    ("rx_dropped".to_owned(), c.rx_dropped),
                    ("rx_errors".to_owned(), c.rx_errors),
                    ("tx_bytes".to_owned(), c.tx_bytes),
                    ("tx_packets".to_owned(), c.tx_packets),
                    ("tx_dropped".to_owned(), c.tx_dropped),
                    ("tx_errors".to_owned(), c.tx_errors),
                ]),
            );
        }
        Ok(out)
    }

    /// A pairing was recorded (a changed pairing is removed, then added).
    #[zbus(signal)]
    pub async fn pairing_added(emitter: &SignalEmitter<'_>, pairing: Dict) -> zbus::Result<()>;

    /// A pairing was dropped.
    #[zbus(signal)]
    pub async fn pairing_removed(emitter: &SignalEmitter<'_>, pairing: Dict) -> zbus::Result<()>;
}
