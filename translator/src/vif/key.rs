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
}

impl Key {
    /// Every key, in canonical order.
    pub const ALL: [Key; 17] = [
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
            _ => return None,
        })
    }

    pub(super) fn is_flag(self) -> bool {
        matches!(self, Key::Trusted | Key::Untrusted)
    }

    /// Keys that share one setting (`netdev` is `gatewaydev`; `trusted`/`untrusted`).
    pub(super) fn slot(self) -> u32 {
        match self {
            Key::Netdev => Key::Gatewaydev as u32,
            Key::Untrusted => Key::Trusted as u32,
            k => k as u32,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
