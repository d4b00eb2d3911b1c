//! The keys of a vif spec.

use std::fmt;

/// The keys of a vif spec, flags included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// `mac=`
    Mac,
    /// `bridge=`
    Bridge,
    /// `type=`
    Type,
    /// `model=`
    Model,
    /// `vifname=`
    Vifname,
    /// `script=`
    Script,
    /// `ip=`
    Ip,
    /// `backend=`
    Backend,
    /// `rate=`
    Rate,
    /// `gatewaydev=`
    Gatewaydev,
    /// `netdev=` (deprecated spelling of gatewaydev)
    Netdev,
    /// `mtu=`
    Mtu,
    /// `devid=`
    Devid,
    /// `vlan=`
    Vlan,
    /// `accel=` (obsolete)
    Accel,
    /// the `trusted` flag
    Trusted,
    /// the `untrusted` flag
    Untrusted,
    /// `forwarddev=` (COLO replication: the device of the secondary's forwarding)
    Forwarddev,
    /// One of xl's `colo_*=` keys (COLO replication), by its index in [`COLO_KEYS`].
    Colo(u8),
}

/// xl's COLO replication keys (`parse_nic_config` in Xen's `tools/xl/xl_parse.c`), each
/// a string libxl hands to QEMU's COLO proxy. libvirt has no place for any of them.
pub const COLO_KEYS: [&str; 48] = [
    "colo_sock_mirror_id",
    "colo_sock_mirror_ip",
    "colo_sock_mirror_port",
    "colo_sock_compare_sec_in_id",
    "colo_sock_compare_sec_in_ip",
    "colo_sock_compare_sec_in_port",
    "colo_sock_redirector0_id",
    "colo_sock_redirector0_ip",
    "colo_sock_redirector0_port",
    "colo_sock_redirector1_id",
    "colo_sock_redirector1_ip",
    "colo_sock_redirector1_port",
    "colo_sock_redirector2_id",
    "colo_sock_redirector2_ip",
    "colo_sock_redirector2_port",
    "colo_sock_compare_pri_in_id",
    "colo_sock_compare_pri_in_ip",
    "colo_sock_compare_pri_in_port",
    "colo_sock_compare_notify_id",
    "colo_sock_compare_notify_ip",
    "colo_sock_compare_notify_port",
    "colo_filter_mirror_queue",
    "colo_filter_mirror_outdev",
    "colo_filter_redirector0_queue",
    "colo_filter_redirector0_indev",
    "colo_filter_redirector0_outdev",
    "colo_filter_redirector1_queue",
    "colo_filter_redirector1_indev",
    "colo_filter_redirector1_outdev",
    "colo_compare_pri_in",
    "colo_compare_sec_in",
    "colo_compare_out",
    "colo_compare_notify_dev",
    "colo_sock_sec_redirector0_id",
    "colo_sock_sec_redirector0_ip",
    "colo_sock_sec_redirector0_port",
    "colo_sock_sec_redirector1_id",
    "colo_sock_sec_redirector1_ip",
    "colo_sock_sec_redirector1_port",
    "colo_filter_sec_redirector0_queue",
    "colo_filter_sec_redirector0_indev",
    "colo_filter_sec_redirector0_outdev",
    "colo_filter_sec_redirector1_queue",
    "colo_filter_sec_redirector1_indev",
    "colo_filter_sec_redirector1_outdev",
    "colo_filter_sec_rewriter0_queue",
    "colo_checkpoint_host",
    "colo_checkpoint_port",
];

/// How many settings the keys have (flags and spellings of one setting share one):
/// the size of a table indexed by [`Key::slot`].
pub(super) const SLOTS: usize = 16 + COLO_KEYS.len();

impl Key {
    /// Every key but the COLO ones ([`COLO_KEYS`]), in canonical order.
    pub const ALL: [Key; 18] = [
        Key::Mac,
        Key::Bridge,
        Key::Ip,
        Key::Script,
        Key::Model,
        Key::Type,
        Key::Vifname,
        Key::Rate,
        Key::Backend,
        Key::Mtu,
        Key::Vlan,
        Key::Gatewaydev,
        Key::Netdev,
        Key::Devid,
        Key::Trusted,
        Key::Untrusted,
        Key::Accel,
        Key::Forwarddev,
    ];

    /// The key as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Key::Mac => "mac",
            Key::Bridge => "bridge",
            Key::Type => "type",
            Key::Model => "model",
            Key::Vifname => "vifname",
            Key::Script => "script",
            Key::Ip => "ip",
            Key::Backend => "backend",
            Key::Rate => "rate",
            Key::Gatewaydev => "gatewaydev",
            Key::Netdev => "netdev",
            Key::Mtu => "mtu",
            Key::Devid => "devid",
            Key::Vlan => "vlan",
            Key::Accel => "accel",
            Key::Trusted => "trusted",
            Key::Untrusted => "untrusted",
            Key::Forwarddev => "forwarddev",
            Key::Colo(i) => COLO_KEYS[usize::from(i)],
        }
    }

    /// The key for a name (case-sensitive, as xl).
    pub fn from_name(s: &str) -> Option<Key> {
        Some(match s {
            "mac" => Key::Mac,
            "bridge" => Key::Bridge,
            "type" => Key::Type,
            "model" => Key::Model,
            "vifname" => Key::Vifname,
            "script" => Key::Script,
            "ip" => Key::Ip,
            "backend" => Key::Backend,
            "rate" => Key::Rate,
            "gatewaydev" => Key::Gatewaydev,
            "netdev" => Key::Netdev,
            "mtu" => Key::Mtu,
            "devid" => Key::Devid,
            "vlan" => Key::Vlan,
            "accel" => Key::Accel,
            "trusted" => Key::Trusted,
            "untrusted" => Key::Untrusted,
            "forwarddev" => Key::Forwarddev,
            _ if s.starts_with("colo_") => {
                let i = COLO_KEYS.iter().position(|k| *k == s)?;
                // Fewer than 256 keys.
                Key::Colo(u8::try_from(i).ok()?)
            }
            _ => return None,
        })
    }

    pub(super) fn is_flag(self) -> bool {
        matches!(self, Key::Trusted | Key::Untrusted)
    }

    /// The setting a key sets, from 0 to [`SLOTS`]: keys that share one setting share
    /// a slot (`netdev` is `gatewaydev`; `trusted`/`untrusted`).
    pub(super) fn slot(self) -> usize {
        match self {
            Key::Mac => 0,
            Key::Bridge => 1,
            Key::Type => 2,
            Key::Model => 3,
            Key::Vifname => 4,
            Key::Script => 5,
            Key::Ip => 6,
            Key::Backend => 7,
            Key::Rate => 8,
            Key::Gatewaydev | Key::Netdev => 9,
            Key::Mtu => 10,
            Key::Devid => 11,
            Key::Vlan => 12,
            Key::Accel => 13,
            Key::Trusted | Key::Untrusted => 14,
            Key::Forwarddev => 15,
            Key::Colo(i) => 16 + usize::from(i),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_slots() {
        for k in Key::ALL {
            assert_eq!(Key::from_name(k.as_str()), Some(k));
            assert!(k.slot() < SLOTS);
        }
        for (i, name) in COLO_KEYS.iter().enumerate() {
            let k = Key::from_name(name).unwrap();
            assert_eq!(k, Key::Colo(u8::try_from(i).unwrap()));
            assert_eq!(k.as_str(), *name);
            assert!(k.slot() < SLOTS);
        }
        assert_eq!(Key::from_name("colo_frob"), None);
        assert_eq!(Key::from_name("rate "), None);
        assert_eq!(Key::Netdev.slot(), Key::Gatewaydev.slot());
        let mut slots: Vec<usize> = Key::ALL.iter().map(|k| k.slot()).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), Key::ALL.len() - 2);
    }
}
