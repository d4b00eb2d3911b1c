//! One xl vif spec: the tokenizer, the typed [`VifSpec`], and the canonical formatter.
//!
//! Parsing checks each value on its own (a MAC is a MAC, a rate follows Xen's grammar);
//! what depends on other keys or on the guest type is checked by [`VifSpec::validate`]
//! and by the conversion to XML.

use std::borrow::Cow;
use std::fmt;

use crate::diag::{shown, Warning};
use crate::guest::GuestType;
use crate::interface::IpElem;
use crate::mac::MacAddr;
use crate::model::NETFRONT;
use crate::rate::Rate;
use crate::vlan::VlanSpec;

mod error;
mod key;
mod tokens;
mod value;

pub use error::{ValueError, VifError};
pub use key::{Key, COLO_KEYS};
pub use tokens::{is_xl_space, tokenize, Token, Tokens};
pub use value::{
    check_backend, check_model, check_name, check_script, check_spec_text, format_ips, parse_ips,
};
use value::{number, text};

/// The syntax of a vif spec, for `--help`.
pub const SYNTAX: &str = "KEY=VALUE[,KEY=VALUE...] and the bare flags trusted, untrusted. \
Keys: mac, bridge, type (ioemu|vif; xm's type=netfront is ignored, as xl ignores it), model, \
vifname, script, ip (space-separated ADDR[/PREFIX]), backend, rate, gatewaydev (netdev: \
deprecated), mtu, devid, vlan, accel (obsolete), forwarddev and colo_* (COLO). Empty tokens \
and spaces at the start of a token are ignored, as xl ignores them; a space anywhere else is \
part of the key or the value (an error, but between ip= addresses); '' is a NIC with every \
default.";

/// xl's default emulated NIC model: what every HVM NIC is without `model=`.
pub const DEFAULT_MODEL: &str = "rtl8139";

/// xl's `type=`: emulated NIC with a PV twin, or PV only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NicType {
    /// `ioemu`: an emulated NIC paired with a PV NIC (HVM only).
    Ioemu,
    /// `vif`: PV only. (xm's `netfront` is not a type xl knows: it ignores the token.)
    Vif,
}

impl NicType {
    /// The xl spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NicType::Ioemu => "ioemu",
            NicType::Vif => "vif",
        }
    }
}

/// How strictly to read a spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// xl's config-file behaviour: unknown keys and tokens are dropped with a warning,
    /// and a repeated key keeps its last value (with a warning), instead of errors.
    pub lenient: bool,
}

/// A parsed vif spec. Strings borrow from the spec text where they can.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VifSpec<'a> {
    /// `mac=`
    pub mac: Option<MacAddr>,
    /// `bridge=`, as written (its reading depends on the script).
    pub bridge: Option<Cow<'a, str>>,
    /// `type=`
    pub nic_type: Option<NicType>,
    /// `model=`
    pub model: Option<Cow<'a, str>>,
    /// `vifname=` (a valid interface name)
    pub vifname: Option<Cow<'a, str>>,
    /// `script=`
    pub script: Option<Cow<'a, str>>,
    /// `ip=`
    pub ips: Vec<IpElem>,
    /// `backend=`
    pub backend: Option<Cow<'a, str>>,
    /// `rate=`
    pub rate: Option<Rate>,
    /// `gatewaydev=` (or the deprecated `netdev=`, see `netdev_spelling`)
    pub gatewaydev: Option<Cow<'a, str>>,
    /// Whether the gateway device was spelled `netdev=`.
    pub netdev_spelling: bool,
    /// `mtu=`, 1 to 65535
    pub mtu: Option<u32>,
    /// `devid=`
    pub devid: Option<u32>,
    /// `vlan=`
    pub vlan: Option<VlanSpec>,
    /// `trusted` (true) or `untrusted` (false)
    pub trusted: Option<bool>,
    /// `accel=` (obsolete)
    pub accel: Option<Cow<'a, str>>,
    /// `forwarddev=` (COLO)
    pub forwarddev: Option<Cow<'a, str>>,
    /// The `colo_*=` keys (COLO), in the order given.
    pub colo: Vec<(&'static str, Cow<'a, str>)>,
}

impl<'a> VifSpec<'a> {
    /// Parses a spec, reporting every problem. Warnings (lenient mode only) come with
    /// the spec.
    pub fn parse(
        spec: &'a str,
        opts: ParseOptions,
    ) -> Result<(VifSpec<'a>, Vec<Warning>), Vec<VifError>> {
        let (out, warnings, errors) = VifSpec::parse_partial(spec, opts);
        if errors.is_empty() {
            Ok((out, warnings))
        } else {
            Err(errors)
        }
    }

    /// Parses a spec, keeping every value that parsed even when others did not, so a
    /// caller can also run [`VifSpec::validate`] and report every problem at once.
    pub fn parse_partial(
        spec: &'a str,
        opts: ParseOptions,
    ) -> (VifSpec<'a>, Vec<Warning>, Vec<VifError>) {
        let mut out = VifSpec::default();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        // The token that set each slot, to name both in a duplicate error.
        let mut seen: [Option<&'a str>; key::SLOTS] = [None; key::SLOTS];
        for tok in tokenize(spec) {
            let Some(key) = Key::from_name(tok.key) else {
                let e = match tok.value {
                    Some(_) => VifError::UnknownKey {
                        key: tok.key.to_owned(),
                        token: tok.text.to_owned(),
                    },
                    None => VifError::UnknownFlag(tok.text.to_owned()),
                };
                if opts.lenient {
                    let code = if tok.value.is_some() {
                        "unknown-key"
                    } else {
                        "unknown-token"
                    };
                    warnings.push(
                        Warning::loss(
                            shown(tok.key).to_string(),
                            format!("{e}: dropped, as xl does in a config file"),
                        )
                        .with_code(code)
                        .with_value(tok.text),
                    );
                } else {
                    errors.push(e);
                }
                continue;
            };
            if tok.value.is_none() && !key.is_flag() {
                errors.push(VifError::Invalid {
                    key: key.as_str(),
                    value: String::new(),
                    source: ValueError::Empty,
                });
                continue;
            }
            if key == Key::Type && tok.value == Some("netfront") {
                // xl: "Invalid parameter `type'", and in a config file the token is
                // ignored: the NIC keeps its default type. An ignored token sets nothing,
                // so it repeats nothing either.
                warnings.push(
                    Warning::loss(
                        "type",
                        "type=netfront is xm's spelling: xl does not know it (\"Invalid parameter \
                         `type'\") and ignores the token, so the NIC keeps its default type (on \
                         HVM an emulated NIC with a PV twin); write type=vif for a PV-only NIC: \
                         ignored",
                    )
                    .with_code("ignored-token")
                    .with_value(tok.text),
                );
                continue;
            }
            let slot = key.slot();
            if let Some(first) = seen[slot] {
                let e = VifError::Duplicate {
                    key: key.as_str(),
                    first: first.to_owned(),
                    second: tok.text.to_owned(),
                };
                if !opts.lenient {
                    errors.push(e);
                    continue;
                }
                warnings.push(
                    Warning::loss(key.as_str(), format!("{e}: the last one wins, as in xl"))
                        .with_code("duplicate-key")
                        .with_value(tok.text),
                );
            }
            seen[slot] = Some(tok.text);
            if let Err(source) = out.set(key, tok.value) {
                errors.push(VifError::Invalid {
                    key: key.as_str(),
                    value: tok.value.unwrap_or("").to_owned(),
                    source,
                });
            }
        }
        (out, warnings, errors)
    }

    fn set(&mut self, key: Key, value: Option<&'a str>) -> Result<(), ValueError> {
        let v = match (key.is_flag(), value) {
            (true, None) => "",
            (true, Some(_)) => return Err(ValueError::FlagValue),
            (false, Some("")) | (false, None) => return Err(ValueError::Empty),
            (false, Some(v)) => v,
        };
        // xl keeps every character up to the next comma: a space in a value is part of
        // it (`rate=10MB/s ` is no rate, `bridge=br0 ` no bridge vif-bridge finds). Only
        // ip= holds spaces, between its addresses.
        if key != Key::Ip && v.as_bytes().contains(&b' ') {
            return Err(ValueError::Space);
        }
        match key {
            Key::Mac => self.mac = Some(v.parse()?),
            // Its form (a Linux bridge name or the Open vSwitch form) depends on the
            // script: checked by the conversion.
            Key::Bridge => {
                check_spec_text(v)?;
                self.bridge = Some(Cow::Borrowed(v));
            }
            Key::Type => {
                self.nic_type = Some(match v {
                    "ioemu" => NicType::Ioemu,
                    "vif" => NicType::Vif,
                    _ => return Err(ValueError::NicType),
                })
            }
            Key::Model => {
                check_model(v)?;
                self.model = Some(Cow::Borrowed(v));
            }
            Key::Vifname => {
                check_name(v)?;
                self.vifname = Some(Cow::Borrowed(v));
            }
            Key::Script => {
                check_script(v)?;
                self.script = Some(Cow::Borrowed(v));
            }
            Key::Ip => self.ips = parse_ips(v)?,
            Key::Backend => {
                check_backend(v)?;
                self.backend = Some(Cow::Borrowed(v));
            }
            Key::Rate => self.rate = Some(v.parse()?),
            Key::Gatewaydev | Key::Netdev => {
                check_name(v)?;
                self.gatewaydev = Some(Cow::Borrowed(v));
                self.netdev_spelling = key == Key::Netdev;
            }
            Key::Mtu => self.mtu = Some(number(v, 1u32, 65535)?),
            // libxl's devid is a C int.
            Key::Devid => self.devid = Some(number(v, 0, i32::MAX.unsigned_abs())?),
            Key::Vlan => self.vlan = Some(v.parse()?),
            Key::Accel => self.accel = Some(text(v)?),
            Key::Trusted => self.trusted = Some(true),
            Key::Untrusted => self.trusted = Some(false),
            Key::Forwarddev => self.forwarddev = Some(text(v)?),
            Key::Colo(_) => {
                let name = key.as_str();
                let v = text(v)?;
                // A repeat (--lenient) replaces the earlier value, as in xl.
                match self.colo.iter_mut().find(|(k, _)| *k == name) {
                    Some(slot) => slot.1 = v,
                    None => self.colo.push((name, v)),
                }
            }
        }
        Ok(())
    }

    /// Cross-field checks that need the guest type, as [`VifSpec::validate_with`] with
    /// the default options.
    pub fn validate(&self, guest: GuestType) -> Result<(), Vec<VifError>> {
        self.validate_with(guest, ParseOptions::default())
    }

    /// Whether a `model=` on a guest of this type is dropped with a warning (rather than
    /// refused): on a PV or PVH guest xl ignores the model (a PV NIC has none), and
    /// libvirt refuses a PV guest with one. vifkit drops xl's default model (rtl8139,
    /// which templates for HVM guests carry about) and, with `--lenient`, any model;
    /// another model is an error, as it asks for a NIC the guest cannot have.
    pub fn model_dropped(&self, guest: GuestType, opts: ParseOptions) -> Option<&str> {
        let m = self.model.as_deref().filter(|m| *m != NETFRONT)?;
        (!guest.has_emulated_nics() && (opts.lenient || m == DEFAULT_MODEL)).then_some(m)
    }

    /// Cross-field checks that need the guest type: PV and PVH guests have no emulated
    /// NICs, so `type=ioemu` is refused there (libxl refuses it too), and so is a model
    /// but netfront unless [`VifSpec::model_dropped`] says it is dropped.
    pub fn validate_with(&self, guest: GuestType, opts: ParseOptions) -> Result<(), Vec<VifError>> {
        let mut errors = Vec::new();
        if !guest.has_emulated_nics() {
            if self.nic_type == Some(NicType::Ioemu) {
                errors.push(VifError::NotHere {
                    key: "type",
                    value: "ioemu".into(),
                    reason: format!("A {guest} guest has no emulated NICs"),
                });
            }
            if let Some(m) = self.model.as_deref().filter(|m| *m != NETFRONT) {
                if self.model_dropped(guest, opts).is_none() {
                    errors.push(VifError::NotHere {
                        key: "model",
                        value: m.to_owned(),
                        reason: format!(
                            "A {guest} guest has no device model: netfront is its only NIC \
                             model (xl ignores the key there; --lenient drops it with a warning)"
                        ),
                    });
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Detaches the spec from the text it borrows from.
    pub fn into_owned(self) -> VifSpec<'static> {
        fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        VifSpec {
            mac: self.mac,
            bridge: own(self.bridge),
            nic_type: self.nic_type,
            model: own(self.model),
            vifname: own(self.vifname),
            script: own(self.script),
            ips: self.ips,
            backend: own(self.backend),
            rate: self.rate,
            gatewaydev: own(self.gatewaydev),
            netdev_spelling: self.netdev_spelling,
            mtu: self.mtu,
            devid: self.devid,
            vlan: self.vlan,
            trusted: self.trusted,
            accel: own(self.accel),
            forwarddev: own(self.forwarddev),
            colo: self
                .colo
                .into_iter()
                .map(|(k, v)| (k, Cow::Owned(v.into_owned())))
                .collect(),
        }
    }

    /// Writes the canonical spec: keys in the contract's order (`mac, bridge, ip, script,
    /// model|type, vifname, rate`, then `backend, mtu, vlan`, then the keys libvirt has
    /// no place for: `gatewaydev, devid, trusted|untrusted, accel, forwarddev, colo_*`).
    pub fn write_to(&self, out: &mut String) {
        use std::fmt::Write;
        let start = out.len();
        let key = |out: &mut String, k: &str| {
            if out.len() > start {
                out.push(',');
            }
            out.push_str(k);
        };
        if let Some(m) = &self.mac {
            key(out, "mac=");
            m.write_to(out);
        }
        if let Some(b) = &self.bridge {
            key(out, "bridge=");
            out.push_str(b);
        }
        if !self.ips.is_empty() {
            key(out, "ip=");
            format_ips(&self.ips, out);
        }
        if let Some(s) = &self.script {
            key(out, "script=");
            out.push_str(s);
        }
        if let Some(m) = &self.model {
            key(out, "model=");
            out.push_str(m);
        }
        if let Some(t) = self.nic_type {
            key(out, "type=");
            out.push_str(t.as_str());
        }
        if let Some(v) = &self.vifname {
            key(out, "vifname=");
            out.push_str(v);
        }
        if let Some(r) = &self.rate {
            key(out, "rate=");
            let _ = write!(out, "{r}");
        }
        if let Some(b) = &self.backend {
            key(out, "backend=");
            out.push_str(b);
        }
        if let Some(m) = self.mtu {
            key(out, "mtu=");
            let _ = write!(out, "{m}");
        }
        if let Some(v) = &self.vlan {
            key(out, "vlan=");
            let _ = write!(out, "{v}");
        }
        if let Some(g) = &self.gatewaydev {
            key(out, "gatewaydev=");
            out.push_str(g);
        }
        if let Some(d) = self.devid {
            key(out, "devid=");
            let _ = write!(out, "{d}");
        }
        match self.trusted {
            Some(true) => key(out, "trusted"),
            Some(false) => key(out, "untrusted"),
            None => {}
        }
        if let Some(a) = &self.accel {
            key(out, "accel=");
            out.push_str(a);
        }
        if let Some(f) = &self.forwarddev {
            key(out, "forwarddev=");
            out.push_str(f);
        }
        for (k, v) in &self.colo {
            key(out, k);
            out.push('=');
            out.push_str(v);
        }
    }
}

impl fmt::Display for VifSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::RateError;

    fn parse(s: &str) -> VifSpec<'_> {
        VifSpec::parse(s, ParseOptions::default()).unwrap().0
    }

    fn errors(s: &str) -> Vec<VifError> {
        VifSpec::parse(s, ParseOptions::default()).unwrap_err()
    }

    #[test]
    fn every_key() {
        let s = parse(
            "mac=00:16:3E:01:02:03,bridge=xenbr0.10:20,type=ioemu,model=e1000,vifname=vm1.0,\
             script=vif-openvswitch,ip=10.0.0.1 10.0.0.2/24  2000::1/64,backend=netdom,\
             rate=10MB/s@20ms,gatewaydev=eth1,mtu=9000,devid=3,vlan=10p/20,untrusted,accel=x",
        );
        assert_eq!(s.mac.unwrap().to_string(), "00:16:3e:01:02:03");
        assert_eq!(s.ips.len(), 3);
        assert_eq!(s.ips[2].prefix, Some(64));
        assert_eq!(s.trusted, Some(false));
        assert_eq!(
            s.to_string(),
            "mac=00:16:3e:01:02:03,bridge=xenbr0.10:20,ip=10.0.0.1 10.0.0.2/24 2000::1/64,\
             script=vif-openvswitch,model=e1000,type=ioemu,vifname=vm1.0,rate=10MB/s@20ms,\
             backend=netdom,mtu=9000,vlan=10p/20,gatewaydev=eth1,devid=3,untrusted,accel=x"
        );
        // The canonical form re-parses to the same spec.
        let again = s.to_string();
        assert_eq!(parse(&again), s);
    }

    #[test]
    fn xm_spellings() {
        // xl ignores type=netfront ("Invalid parameter `type'"): the default type stays.
        let (s, w) = VifSpec::parse("bridge=br0,type=netfront", ParseOptions::default()).unwrap();
        assert_eq!(s.nic_type, None);
        assert_eq!(s.to_string(), "bridge=br0");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].key, "type");
        assert!(
            w[0].message.starts_with("type=netfront "),
            "{}",
            w[0].message
        );
        assert!(w[0].is_loss());
        // An ignored token repeats nothing.
        let (s, _) = VifSpec::parse("type=vif,type=netfront", ParseOptions::default()).unwrap();
        assert_eq!(s.nic_type, Some(NicType::Vif));
        let s = parse("netdev=eth0");
        assert!(s.netdev_spelling);
        assert_eq!(s.to_string(), "gatewaydev=eth0");
        assert_eq!(parse("").to_string(), "");
    }

    #[test]
    fn every_problem_is_reported() {
        let e = errors("colour=blue,mac=01:00:00:00:00:01,frob,rate=10MB,bridge=a,bridge=b,mtu=0");
        let keys: Vec<_> = e.iter().map(|e| e.key().to_owned()).collect();
        assert_eq!(keys, ["colour", "mac", "frob", "rate", "bridge", "mtu"]);
        assert_eq!(e[0].to_string(), "Unknown key `colour` in `colour=blue`");
        assert_eq!(
            e[4].to_string(),
            "Key `bridge` given more than once (`bridge=a`, then `bridge=b`)"
        );
        assert!(
            matches!(&e[3], VifError::Invalid { value, source: ValueError::Rate(RateError::InvalidRate), .. } if value == "10MB")
        );
    }

    #[test]
    fn aliases_share_a_slot() {
        let e = errors("netdev=a,gatewaydev=b");
        assert_eq!(e[0].key(), "gatewaydev");
        assert_eq!(errors("trusted,untrusted")[0].key(), "untrusted");
    }

    #[test]
    fn lenient_drops_and_keeps_last() {
        let (s, w) = VifSpec::parse(
            "bridge=a,colour=blue,bridge=b,frob",
            ParseOptions { lenient: true },
        )
        .unwrap();
        assert_eq!(s.bridge.as_deref(), Some("b"));
        let keys: Vec<_> = w.iter().map(|w| w.key.as_ref()).collect();
        assert_eq!(keys, ["colour", "bridge", "frob"]);
        assert!(w.iter().all(Warning::is_loss));
    }

    #[test]
    fn values_are_checked() {
        let key_of = |s: &str| errors(s)[0].key().to_owned();
        for (spec, key) in [
            ("ip=10.0.0.300", "ip"),
            ("ip=10.0.0.1/33", "ip"),
            ("ip=", "ip"),
            ("ip=  ", "ip"),
            ("vifname=this-name-is-too-long0", "vifname"),
            ("vifname=a:b", "vifname"),
            ("mtu=65536", "mtu"),
            ("mtu=-1", "mtu"),
            ("devid=x", "devid"),
            ("type=foo", "type"),
            ("trusted=1", "trusted"),
            ("vlan=10/20", "vlan"),
            ("bridge=", "bridge"),
            ("mac", "mac"),
            ("gatewaydev=a/b", "gatewaydev"),
            ("script=a\u{7}b", "script"),
        ] {
            assert_eq!(key_of(spec), key, "{spec}");
        }
    }

    #[test]
    fn only_leading_spaces_are_skipped() {
        let s = parse("type=ioemu,  bridge=xenbr0, ip=10.0.0.1  10.0.0.2 ");
        assert_eq!(s.bridge.as_deref(), Some("xenbr0"));
        assert_eq!(s.ips.len(), 2);
        let invalid = |spec: &str| match &errors(spec)[..] {
            [VifError::Invalid { key, source, .. }] => (*key, source.clone()),
            other => panic!("{spec}: {other:?}"),
        };
        assert_eq!(invalid("rate=10MB/s "), ("rate", ValueError::Space));
        assert_eq!(invalid("rate= 10MB/s"), ("rate", ValueError::Space));
        assert_eq!(invalid("bridge=br0 "), ("bridge", ValueError::Space));
        assert_eq!(
            invalid("mac=00:16:3e:00:00:01 "),
            ("mac", ValueError::Space)
        );
        assert_eq!(
            invalid("script=vif-bridge\t"),
            ("script", ValueError::Invisible('\t'))
        );
        assert_eq!(
            invalid("model=e1000,script=a b"),
            ("script", ValueError::Space)
        );
        // A space before '=' makes another key: unknown, and dropped with --lenient.
        assert!(matches!(
            &errors("rate =10MB/s")[..],
            [VifError::UnknownKey { key, .. }] if key == "rate "
        ));
        let (s, w) = VifSpec::parse(
            "bridge=br0,rate =10MB/s,trusted ",
            ParseOptions { lenient: true },
        )
        .unwrap();
        assert_eq!(s.rate, None);
        assert_eq!(s.trusted, None);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].key, "rate ");
        // A bad value is an error with --lenient too (xl exits on a bad rate).
        assert!(VifSpec::parse("rate=10MB/s ", ParseOptions { lenient: true }).is_err());
    }

    #[test]
    fn colo_keys_are_known() {
        let (s, w) = VifSpec::parse(
            "bridge=xenbr0,forwarddev=eth1,colo_sock_mirror_id=1,colo_checkpoint_port=9000",
            ParseOptions::default(),
        )
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(s.forwarddev.as_deref(), Some("eth1"));
        assert_eq!(s.colo.len(), 2);
        assert_eq!(
            s.to_string(),
            "bridge=xenbr0,forwarddev=eth1,colo_sock_mirror_id=1,colo_checkpoint_port=9000"
        );
        assert_eq!(parse(&s.to_string()), s);
        assert_eq!(errors("colo_mirror=1")[0].key(), "colo_mirror");
        assert_eq!(
            errors("colo_sock_mirror_id=1,colo_sock_mirror_id=2")[0].key(),
            "colo_sock_mirror_id"
        );
        let (s, _) = VifSpec::parse(
            "colo_sock_mirror_id=1,colo_sock_mirror_id=2",
            ParseOptions { lenient: true },
        )
        .unwrap();
        assert_eq!(s.colo, [("colo_sock_mirror_id", Cow::Borrowed("2"))]);
    }

    #[test]
    fn values_that_would_add_keys_are_refused() {
        for (spec, key) in [
            ("model=e1000=x", "model"),
            ("model=a.b", "model"),
            ("script=/tmp/a=b", "script"),
            ("backend=dom'0", "backend"),
            ("bridge=br\"0", "bridge"),
            ("vifname=v=1", "vifname"),
            ("bridge=xen\u{200b}br0", "bridge"),
            ("vifname=a\u{202e}b", "vifname"),
        ] {
            assert_eq!(errors(spec)[0].key(), key, "{spec}");
        }
    }

    #[test]
    fn guest_checks() {
        let pv = GuestType::Pv;
        assert_eq!(
            parse("type=ioemu").validate(pv).unwrap_err()[0].key(),
            "type"
        );
        assert_eq!(
            parse("model=e1000").validate(pv).unwrap_err()[0].key(),
            "model"
        );
        assert_eq!(
            parse("model=virtio-net")
                .validate(GuestType::Pvh)
                .unwrap_err()[0]
                .key(),
            "model"
        );
        assert!(parse("model=netfront,type=vif").validate(pv).is_ok());
        // xl's default model is dropped (a warning, see to_xml), and any model with
        // --lenient.
        let rtl = parse("model=rtl8139");
        assert!(rtl.validate(pv).is_ok());
        assert_eq!(
            rtl.model_dropped(pv, ParseOptions::default()),
            Some("rtl8139")
        );
        let e1000 = parse("model=e1000");
        let lenient = ParseOptions { lenient: true };
        assert!(e1000.validate_with(pv, lenient).is_ok());
        assert_eq!(e1000.model_dropped(GuestType::Pvh, lenient), Some("e1000"));
        assert_eq!(e1000.model_dropped(GuestType::Hvm, lenient), None);
        assert!(parse("model=e1000,type=ioemu")
            .validate(GuestType::Hvm)
            .is_ok());
    }
}
