//! The `a{sv}` dictionaries the service sends and takes: a pairing (an attachment), a
//! bridge's properties, and `Register`'s options, read with every key and type checked.

use std::collections::HashMap;

use zbus::{Array, OwnedVariant, Str, Variant};

use super::error::ServiceError;
use super::limits;
use registry::{Attachment, Bridge, BridgeKind, Mtu, VlanId};
use translator::IfName;

/// An `a{sv}` dictionary.
pub type Dict = HashMap<String, OwnedVariant>;

fn string(s: &str) -> OwnedVariant {
    OwnedVariant::from(Str::from(s.to_owned()))
}

fn strings(items: Vec<String>) -> Result<OwnedVariant, ServiceError> {
    OwnedVariant::try_from(Array::from(items))
        .map_err(|e| ServiceError::Failed(format!("Cannot encode a string list: {e}")))
}

/// A pairing: `driver` (s, `xen` or `qemu`), `domain` (s), `domid` (u), `devid` (u),
/// `backend` (s: a Xen PV backend, or a QEMU guest's tap), `mac` (s), `bridge` (s),
/// `state` (s), and when known `uuid` (s), `emulated` (s, the emulated twin), `vlan` (s,
/// as `vlan=` writes it), `guest_name` (s) and `model` (s, the NIC's model: `e1000`,
/// `virtio`, ...).
pub fn attachment(a: &Attachment) -> Dict {
    let mut d = Dict::new();
    d.insert("driver".into(), string(a.driver.as_str()));
    d.insert("domain".into(), string(a.domain_name.as_str()));
    d.insert("domid".into(), OwnedVariant::from(a.domid));
    d.insert("devid".into(), OwnedVariant::from(a.devid));
    d.insert("backend".into(), string(a.backend.as_str()));
    d.insert("mac".into(), string(&a.mac.to_string()));
    d.insert("bridge".into(), string(a.bridge.as_str()));
    d.insert("state".into(), string(a.state.as_str()));
    if let Some(u) = &a.domain_uuid {
        d.insert("uuid".into(), string(&u.to_string()));
    }
    if let Some(e) = &a.emulated {
        d.insert("emulated".into(), string(e.as_str()));
    }
    if let Some(v) = &a.vlan {
        d.insert("vlan".into(), string(&v.to_string()));
    }
    if let Some(g) = &a.guest_name {
        d.insert("guest_name".into(), string(g.as_str()));
    }
    if let Some(m) = &a.model {
        d.insert("model".into(), string(m.as_str()));
    }
    d
}

/// A bridge's properties: `kind` (s), `stp` (b), `creatable` (b), `present` (b: the
/// host has a bridge of that name), `ports` (as: the devices enslaved to it on the
/// host), and when set `uplink` (s), `vlan` (q) and `mtu` (u).
pub fn bridge(b: &Bridge, present: bool, ports: Vec<String>) -> Result<Dict, ServiceError> {
    let mut d = Dict::new();
    d.insert("kind".into(), string(b.kind.as_str()));
    d.insert("stp".into(), OwnedVariant::from(b.stp));
    d.insert("creatable".into(), OwnedVariant::from(b.creatable));
    d.insert("present".into(), OwnedVariant::from(present));
    d.insert("ports".into(), strings(ports)?);
    if let Some(u) = &b.uplink {
        d.insert("uplink".into(), string(u.as_str()));
    }
    if let Some(v) = b.vlan {
        d.insert("vlan".into(), OwnedVariant::from(v.get()));
    }
    if let Some(m) = b.mtu {
        d.insert("mtu".into(), OwnedVariant::from(m.get()));
    }
    Ok(d)
}

/// The keys `Register` takes.
pub const REGISTER_KEYS: &str = "kind, uplink, vlan, mtu, stp, creatable";

fn type_name(v: &Variant<'_>) -> String {
    v.value_signature().to_string()
}

fn want_str<'v>(key: &str, v: &'v Variant<'_>) -> Result<&'v str, ServiceError> {
    match v {
        Variant::Str(s) => {
            if s.len() > limits::MAX_NAME {
                return Err(ServiceError::TooLarge(format!(
                    "Option `{key}` is {} bytes long; at most {} are taken",
                    s.len(),
                    limits::MAX_NAME
                )));
            }
            Ok(s.as_str())
        }
        other => Err(ServiceError::InvalidArgs(format!(
            "Option `{key}` must be a string (s), not {}",
            type_name(other)
        ))),
    }
}

fn want_bool(key: &str, v: &Variant<'_>) -> Result<bool, ServiceError> {
    match v {
        Variant::Bool(b) => Ok(*b),
        other => Err(ServiceError::InvalidArgs(format!(
            "Option `{key}` must be a boolean (b), not {}",
            type_name(other)
        ))),
    }
}

/// Any integer type, as D-Bus clients differ in which they send for a number.
fn want_int(key: &str, v: &Variant<'_>) -> Result<i64, ServiceError> {
    match v {
        Variant::U8(n) => Ok(i64::from(*n)),
        Variant::I16(n) => Ok(i64::from(*n)),
        Variant::U16(n) => Ok(i64::from(*n)),
        Variant::I32(n) => Ok(i64::from(*n)),
        Variant::U32(n) => Ok(i64::from(*n)),
        Variant::I64(n) => Ok(*n),
        Variant::U64(n) => i64::try_from(*n)
            .map_err(|_| ServiceError::InvalidArgs(format!("Option `{key}` {n} is out of range"))),
        other => Err(ServiceError::InvalidArgs(format!(
            "Option `{key}` must be an integer (q or u), not {}",
            type_name(other)
        ))),
    }
}

fn invalid(e: impl std::error::Error) -> ServiceError {
    ServiceError::InvalidArgs(super::error::chain(&e))
}

/// Reads `Register(name, options)` into a bridge: every key checked, an unknown key or a
/// value of the wrong type refused with the key named. Defaults as `bridge add`: kind
/// `linux`, no uplink, VLAN or MTU, STP off, not creatable.
pub fn register_options(name: &str, options: &Dict) -> Result<Bridge, ServiceError> {
    let name = bridge_name(name)?;
    let mut bridge = Bridge::new(name, BridgeKind::Linux);
    apply_options(&mut bridge, options, false)?;
    Ok(bridge)
}

/// Reads `Bridge2.Set(options)` onto the registered `bridge`: the keys of `Register`,
/// those not given left as they are; `uplink` "", `vlan` 0 and `mtu` 0 clear the setting
/// (as the properties show an unset one).
pub fn set_options(bridge: &Bridge, options: &Dict) -> Result<Bridge, ServiceError> {
    let mut bridge = bridge.clone();
    apply_options(&mut bridge, options, true)?;
    Ok(bridge)
}

/// The bridge kind of an option: the registry's names, and `openvswitch` (as
/// `Bridge2.Kind` shows it) for `ovs`.
fn bridge_kind(s: &str) -> Result<BridgeKind, ServiceError> {
    match s {
        "openvswitch" => Ok(BridgeKind::Ovs),
        other => other.parse::<BridgeKind>().map_err(invalid),
    }
}

/// The kind as `Bridge2.Kind` shows it: `linux` or `openvswitch`.
pub fn kind_name(kind: BridgeKind) -> &'static str {
    match kind {
        BridgeKind::Linux => "linux",
        BridgeKind::Ovs => "openvswitch",
    }
}

fn apply_options(bridge: &mut Bridge, options: &Dict, clearing: bool) -> Result<(), ServiceError> {
    if options.len() > limits::MAX_OPTIONS {
        return Err(ServiceError::TooLarge(format!(
            "{} options given; at most {} are taken ({REGISTER_KEYS})",
            options.len(),
            limits::MAX_OPTIONS
        )));
    }
    // Sorted, so that with several bad options the first one named is always the same.
    let mut keys: Vec<&String> = options.keys().collect();
    keys.sort();
    for key in keys {
        let v: &Variant<'_> = &options[key];
        // A client may wrap a value in one more variant (`v` in `v`).
        let v = match v {
            Variant::Variant(inner) => inner.as_ref(),
            other => other,
        };
        match key.as_str() {
            "kind" => bridge.kind = bridge_kind(want_str(key, v)?)?,
            "uplink" => {
                let u = want_str(key, v)?;
                bridge.uplink = if clearing && u.is_empty() {
                    None
                } else {
                    Some(registry::parse_if_name("uplink", u).map_err(invalid)?)
                };
            }
            "vlan" => {
                let n = want_int(key, v)?;
                bridge.vlan = if clearing && n == 0 {
                    None
                } else {
                    let id = u16::try_from(n)
                        .map_err(|_| invalid(registry::ModelError::VlanId(n.to_string())))?;
                    Some(VlanId::new(id).map_err(invalid)?)
                };
            }
            "mtu" => {
                let n = want_int(key, v)?;
                bridge.mtu = if clearing && n == 0 {
                    None
                } else {
                    let mtu = u32::try_from(n)
                        .map_err(|_| invalid(registry::ModelError::Mtu(n.to_string())))?;
                    Some(Mtu::new(mtu).map_err(invalid)?)
                };
            }
            "stp" => bridge.stp = want_bool(key, v)?,
            "creatable" => bridge.creatable = want_bool(key, v)?,
            other => {
                return Err(ServiceError::InvalidArgs(format!(
                    "Unknown option `{}` (expected {REGISTER_KEYS})",
                    other.escape_debug()
                )))
            }
        }
    }
    bridge.validate().map_err(invalid)
}

/// A bridge name argument, validated before it goes anywhere.
pub fn bridge_name(name: &str) -> Result<IfName, ServiceError> {
    if name.len() > limits::MAX_NAME {
        return Err(ServiceError::TooLarge(format!(
            "The bridge name is {} bytes long; at most {} are taken",
            name.len(),
            limits::MAX_NAME
        )));
    }
    registry::parse_if_name("bridge name", name).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(items: Vec<(&str, OwnedVariant)>) -> Dict {
        items.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    #[test]
    fn register_options_take_every_key() {
        let b = register_options(
            "br9",
            &opts(vec![
                ("kind", string("linux")),
                ("uplink", string("eth0")),
                ("vlan", OwnedVariant::from(9u16)),
                ("mtu", OwnedVariant::from(9000u32)),
                ("stp", OwnedVariant::from(true)),
                ("creatable", OwnedVariant::from(true)),
            ]),
        )
        .unwrap();
        assert_eq!(b.uplink.unwrap().as_str(), "eth0");
        assert_eq!(b.vlan.unwrap().get(), 9);
        assert_eq!(b.mtu.unwrap().get(), 9000);
        assert!(b.stp && b.creatable);
    }

    #[test]
    fn register_options_name_what_is_wrong() {
        let e = register_options("br0", &opts(vec![("colour", string("red"))])).unwrap_err();
        assert_eq!(
            e,
            ServiceError::InvalidArgs(format!(
                "Unknown option `colour` (expected {REGISTER_KEYS})"
            ))
        );
        let e = register_options("br0", &opts(vec![("mtu", string("9000"))])).unwrap_err();
        assert_eq!(
            e,
            ServiceError::InvalidArgs("Option `mtu` must be an integer (q or u), not s".into())
        );
        let e =
            register_options("br0", &opts(vec![("mtu", OwnedVariant::from(20u32))])).unwrap_err();
        assert!(
            matches!(e, ServiceError::InvalidArgs(ref m) if m.contains("MTU")),
            "{e}"
        );
        let e =
            register_options("br0", &opts(vec![("vlan", OwnedVariant::from(5u32))])).unwrap_err();
        assert!(
            matches!(e, ServiceError::InvalidArgs(ref m) if m.contains("uplink")),
            "{e}"
        );
        let e = register_options("a/b", &Dict::new()).unwrap_err();
        assert!(matches!(e, ServiceError::InvalidArgs(ref m) if m.contains("bridge name")));
        let many: Dict = (0..100).map(|i| (format!("k{i}"), string("x"))).collect();
        assert!(matches!(
            register_options("br0", &many),
            Err(ServiceError::TooLarge(_))
        ));
    }
}
