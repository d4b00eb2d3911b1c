//! libvirt `<interface>` -> xl vif spec, as `translation-contract.md` says.

use std::borrow::Cow;

use crate::bridge_spec::OvsBridge;
use crate::diag::{shown, Warning};
use crate::guest::GuestType;
use crate::interface::{Dropped, Interface, InterfaceType, NativeMode};
use crate::model::{self, NETFRONT};
use crate::rate::Rate;
use crate::to_xml::{script_name, LIBVIRT_RESERVED_PREFIXES};
use crate::vif::{check_backend, check_model, check_name, check_script};
use crate::vif::{NicType, ValueError, VifSpec};
use crate::vlan::{VlanEntry, VlanError, VlanMode, VlanSpec, VLAN_MAX, VLAN_MIN};

/// One problem with one `<interface>`; each names the element, attribute or type it is
/// about ([`InterfaceError::key`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterfaceError {
    /// An interface type with no xl equivalent.
    #[error("Interface type `{0}` has no xl equivalent (only bridge, network and ethernet have)")]
    UnsupportedType(String),
    /// `type='network'` with no way to learn its bridge.
    #[error("Network `{0}` has no known bridge: give --network {0}=BRIDGE or --connect URI")]
    UnmappedNetwork(String),
    /// A required child is missing.
    #[error("Missing {0}")]
    Missing(&'static str),
    /// A value that cannot go into a vif spec for its key: a bridge or target that is
    /// no interface name, a model, script or backend with a character that would add a
    /// key to the spec (`,`, `=`), end its string (a quote) or cannot be seen.
    #[error("Invalid {element} `{}`", shown(.value))]
    Value {
        /// Which element and attribute (`<script path>`).
        element: &'static str,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: ValueError,
    },
    /// VLANs that Xen's `vlan=` cannot say.
    #[error("<vlan> cannot be written as Xen's vlan key")]
    Vlan(#[source] VlanError),
    /// Something valid in libvirt that xl cannot express, with the reason.
    #[error("{element}: {reason}")]
    NotExpressible {
        /// Which element.
        element: &'static str,
        /// Why, sentence-case.
        reason: String,
    },
}

impl InterfaceError {
    /// A stable kebab-case identifier of the kind of problem, for programs (the
    /// message's wording may change): `unsupported-type`, `unmapped-network`,
    /// `missing-element`, `bad-ELEMENT` (a value that cannot go into a vif spec, the
    /// element and attribute in kebab case: `bad-source-bridge`, `bad-script-path`),
    /// `bad-vlan` or `not-expressible`.
    pub fn code(&self) -> std::borrow::Cow<'static, str> {
        match self {
            InterfaceError::UnsupportedType(_) => "unsupported-type".into(),
            InterfaceError::UnmappedNetwork(_) => "unmapped-network".into(),
            InterfaceError::Missing(_) => "missing-element".into(),
            InterfaceError::Value { element, .. } => {
                let words: Vec<&str> = element
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                format!("bad-{}", words.join("-")).into()
            }
            InterfaceError::Vlan(_) => "bad-vlan".into(),
            InterfaceError::NotExpressible { .. } => "not-expressible".into(),
        }
    }

    /// The offending value as written, when the problem has one (not escaped: see
    /// [`crate::diag::Shown`]).
    pub fn value(&self) -> &str {
        match self {
            InterfaceError::UnsupportedType(v) | InterfaceError::UnmappedNetwork(v) => v,
            InterfaceError::Value { value, .. } => value,
            InterfaceError::Missing(_)
            | InterfaceError::Vlan(_)
            | InterfaceError::NotExpressible { .. } => "",
        }
    }

    /// The element, attribute value or network the problem is about.
    pub fn key(&self) -> &str {
        match self {
            InterfaceError::UnsupportedType(t) => t,
            InterfaceError::UnmappedNetwork(n) => n,
            InterfaceError::Missing(e) => e,
            InterfaceError::Value { element, .. }
            | InterfaceError::NotExpressible { element, .. } => element,
            InterfaceError::Vlan(_) => "<vlan>",
        }
    }
}

/// Finds the bridge of a libvirt network (from `--network NAME=BRIDGE`, a live
/// connection, ...).
pub trait NetworkResolver {
    /// The bridge of `network`, `Ok(None)` when unknown.
    fn bridge_of(&self, network: &str) -> Result<Option<String>, String>;
}

/// No networks known.
impl NetworkResolver for () {
    fn bridge_of(&self, _: &str) -> Result<Option<String>, String> {
        Ok(None)
    }
}

/// A fixed map of network names to bridges, as `--network NAME=BRIDGE` gives; a later
/// entry for the same name wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkMap(pub Vec<(String, String)>);

impl NetworkResolver for NetworkMap {
    fn bridge_of(&self, network: &str) -> Result<Option<String>, String> {
        Ok(self
            .0
            .iter()
            .rev()
            .find(|(n, _)| n == network)
            .map(|(_, b)| b.clone()))
    }
}

/// Checks `value` for the spec key it goes to, naming the element it came from.
fn checked(
    element: &'static str,
    value: &str,
    check: fn(&str) -> Result<(), ValueError>,
) -> Result<(), InterfaceError> {
    check(value).map_err(|source| InterfaceError::Value {
        element,
        value: value.to_owned(),
        source,
    })
}

/// A VLAN id that the vif spec's forms take (1-4094: 0 and 4095 are reserved).
fn vlan_id(id: u16) -> Result<u16, InterfaceError> {
    if (VLAN_MIN..=VLAN_MAX).contains(&id) {
        Ok(id)
    } else {
        Err(InterfaceError::NotExpressible {
            element: "<vlan>",
            reason: format!("VLAN {id} is outside 1-4094 (0 and 4095 are reserved)"),
        })
    }
}

/// Converts one element for a guest of the given type. `dropped` is what the XML reader
/// found that the model has no place for; each becomes a warning.
pub fn interface_to_vif(
    iface: &Interface<'_>,
    dropped: &[Dropped],
    guest: GuestType,
    networks: &dyn NetworkResolver,
) -> Result<(VifSpec<'static>, Vec<Warning>), Vec<InterfaceError>> {
    let mut spec = VifSpec::default();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    let ovs = iface.is_openvswitch();

    let bridge: Option<String> = match &iface.kind {
        InterfaceType::Bridge => match &iface.source_bridge {
            Some(b) => Some(b.to_string()),
            None => {
                errors.push(InterfaceError::Missing("<source bridge>"));
                None
            }
        },
        InterfaceType::Network => {
            let net = iface.source_network.as_deref().unwrap_or("");
            if net.is_empty() {
                errors.push(InterfaceError::Missing("<source network>"));
                None
            } else {
                match networks.bridge_of(net) {
                    Ok(Some(b)) => Some(b),
                    // Live XML names the bridge a running network uses.
                    Ok(None) => match &iface.source_bridge {
                        Some(b) => Some(b.to_string()),
                        None => {
                            errors.push(InterfaceError::UnmappedNetwork(net.to_owned()));
                            None
                        }
                    },
                    Err(reason) => {
                        errors.push(InterfaceError::NotExpressible {
                            element: "<source network>",
                            reason: format!("Looking up network `{net}`: {reason}"),
                        });
                        None
                    }
                }
            }
        }
        InterfaceType::Ethernet => {
            if let Some(s) = iface
                .script
                .as_deref()
                .filter(|s| matches!(script_name(s), "vif-bridge" | "vif-openvswitch"))
            {
                warnings.push(Warning::advice(
                    "<script>",
                    format!("An ethernet interface with script {s}: xl attaches it to its default bridge"),
                ));
            }
            if let Some(b) = &iface.source_bridge {
                warnings.push(Warning::loss(
                    "<source>",
                    format!("<source bridge='{b}'> on an ethernet interface: dropped"),
                ));
            }
            None
        }
        InterfaceType::Other(t) => {
            return Err(vec![InterfaceError::UnsupportedType(t.to_string())]);
        }
    };

    if let Some(vp) = iface.virtualport.as_deref().filter(|v| *v != "openvswitch") {
        warnings.push(Warning::loss(
            "<virtualport>",
            format!("<virtualport type='{vp}'> has no xl equivalent: dropped"),
        ));
    }

    if let Some(b) = bridge {
        if ovs {
            let mut o = OvsBridge {
                name: Cow::Owned(b),
                tag: None,
                trunks: Vec::new(),
            };
            if let Some(v) = &iface.vlan {
                for t in &v.tags {
                    if let Err(e) = vlan_id(t.id) {
                        errors.push(e);
                        continue;
                    }
                    match t.native_mode {
                        Some(NativeMode::Untagged) | None if !v.trunk => o.tag = Some(t.id),
                        Some(NativeMode::Untagged) if o.tag.is_none() => o.tag = Some(t.id),
                        Some(NativeMode::Tagged) => errors.push(InterfaceError::NotExpressible {
                            element: "<vlan>",
                            reason: format!(
                                "nativeMode='tagged' (VLAN {}) has no vif-openvswitch form",
                                t.id
                            ),
                        }),
                        _ => o.trunks.push(t.id),
                    }
                }
                if !v.trunk && v.tags.len() > 1 {
                    errors.push(InterfaceError::NotExpressible {
                        element: "<vlan>",
                        reason: "Several tags without trunk='yes'".into(),
                    });
                }
            }
            match checked("<source bridge>", &o.name, check_name) {
                // vif-openvswitch reads `BR.5` as bridge BR, VLAN 5.
                Ok(()) if o.name.contains('.') => errors.push(InterfaceError::NotExpressible {
                    element: "<source bridge>",
                    reason: format!(
                        "Open vSwitch bridge `{}`: vif-openvswitch would read the part after \
                         the `.` as a VLAN tag",
                        o.name
                    ),
                }),
                Ok(()) => spec.bridge = Some(Cow::Owned(o.to_string())),
                Err(e) => errors.push(e),
            }
        } else {
            match checked("<source bridge>", &b, check_name) {
                Ok(()) => spec.bridge = Some(Cow::Owned(b)),
                Err(e) => errors.push(e),
            }
        }
    }

    if !ovs {
        if let Some(v) = &iface.vlan {
            let mut entries = Vec::with_capacity(v.tags.len());
            for t in &v.tags {
                let mode = match t.native_mode {
                    _ if !v.trunk && v.tags.len() == 1 => VlanMode::Pvid,
                    Some(NativeMode::Untagged) => VlanMode::Pvid,
                    Some(NativeMode::Tagged) => {
                        errors.push(InterfaceError::NotExpressible {
                            element: "<vlan>",
                            reason: format!(
                                "nativeMode='tagged' (VLAN {}): Xen's PVID is always untagged",
                                t.id
                            ),
                        });
                        VlanMode::Tagged
                    }
                    None => VlanMode::Tagged,
                };
                entries.push(VlanEntry { id: t.id, mode });
            }
            if v.trunk && v.tags.len() == 1 && v.tags[0].native_mode.is_none() {
                errors.push(InterfaceError::NotExpressible {
                    element: "<vlan>",
                    reason: format!(
                        "A trunk carrying only tagged VLAN {}: Xen's vlan key makes a lone id the untagged PVID",
                        v.tags[0].id
                    ),
                });
            } else {
                match VlanSpec::new(entries) {
                    Ok(s) => spec.vlan = Some(s),
                    Err(e) => errors.push(InterfaceError::Vlan(e)),
                }
            }
        }
    }

    spec.mac = iface.mac;
    spec.ips.clone_from(&iface.ips);
    spec.script = match (&iface.script, &iface.kind) {
        (Some(s), _) => match checked("<script path>", s, check_script) {
            Ok(()) => Some(Cow::Owned(s.to_string())),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        (None, InterfaceType::Bridge | InterfaceType::Network) => Some(Cow::Borrowed(if ovs {
            "vif-openvswitch"
        } else {
            "vif-bridge"
        })),
        (None, _) => None,
    };
    match iface.model.as_deref() {
        Some(NETFRONT) => spec.nic_type = Some(NicType::Vif),
        Some(m) => match checked("<model type>", m, check_model) {
            Err(e) => errors.push(e),
            Ok(()) if !guest.has_emulated_nics() => errors.push(InterfaceError::NotExpressible {
                element: "<model>",
                reason: format!("Model `{m}` on a {guest} guest: only netfront is possible there"),
            }),
            Ok(()) => {
                // The same notice as vif2xml gives for model=.
                if let Some(n) = model::notice(m) {
                    warnings.push(Warning::advice(
                        "<model>",
                        format!("<model type='{m}'>: {n}"),
                    ));
                }
                spec.model = Some(Cow::Owned(m.to_owned()));
            }
        },
        None => {}
    }
    if let Some(dev) = iface.target_dev.as_deref() {
        match checked("<target dev>", dev, check_name) {
            Ok(()) => match LIBVIRT_RESERVED_PREFIXES
                .iter()
                .find(|p| dev.starts_with(*p))
            {
                // libvirt drops such a name itself when it defines the domain.
                Some(p) => warnings.push(Warning::advice(
                    "<target dev>",
                    format!(
                        "<target dev='{dev}'>: a name libvirt generates (prefix `{p}`, with a \
                         libvirt counter or a domain id in it) is not written as vifname=: \
                         xl names the backend vif<domid>.<devid> itself"
                    ),
                )),
                None => spec.vifname = Some(Cow::Owned(dev.to_owned())),
            },
            Err(e) => errors.push(e),
        }
    }
    if let Some(avg) = iface.outbound_average {
        match Rate::from_libvirt_average_kib(avg) {
            Ok(r) => spec.rate = Some(r),
            Err(_) => errors.push(InterfaceError::NotExpressible {
                element: "<bandwidth>",
                reason: format!("Outbound average {avg} KiB/s is outside 1 to 4294967295"),
            }),
        }
    }
    if let Some(b) = iface.backend_domain.as_deref() {
        match checked("<backenddomain name>", b, check_backend) {
            Ok(()) => spec.backend = Some(Cow::Owned(b.to_owned())),
            Err(e) => errors.push(e),
        }
    }
    spec.mtu = iface.mtu;

    for d in dropped {
        let what = d.describe();
        warnings.push(Warning::loss(
            what.clone(),
            format!("{what} has no xl equivalent: dropped"),
        ));
    }

    if errors.is_empty() {
        Ok((spec, warnings))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::{Vlan, VlanTag};

    fn bridge(b: &str) -> Interface<'static> {
        let mut i = Interface::new(InterfaceType::Bridge);
        i.source_bridge = Some(Cow::Owned(b.to_owned()));
        i
    }

    fn conv(
        i: &Interface<'_>,
        g: GuestType,
    ) -> Result<(String, Vec<Warning>), Vec<InterfaceError>> {
        interface_to_vif(i, &[], g, &()).map(|(s, w)| (s.to_string(), w))
    }

    fn tag(id: u16, native_mode: Option<NativeMode>) -> VlanTag {
        VlanTag { id, native_mode }
    }

    #[test]
    fn ovs_vlans_become_bridge_syntax() {
        let mut i = bridge("ovsbr0");
        i.virtualport = Some("openvswitch".into());
        i.vlan = Some(Vlan {
            trunk: false,
            tags: vec![tag(5, None)],
        });
        assert_eq!(
            conv(&i, GuestType::Hvm).unwrap().0,
            "bridge=ovsbr0.5,script=vif-openvswitch"
        );
        i.vlan = Some(Vlan {
            trunk: true,
            tags: vec![
                tag(6, None),
                tag(5, Some(NativeMode::Untagged)),
                tag(7, None),
            ],
        });
        assert_eq!(
            conv(&i, GuestType::Hvm).unwrap().0,
            "bridge=ovsbr0.5:6:7,script=vif-openvswitch"
        );
        i.vlan = Some(Vlan {
            trunk: true,
            tags: vec![tag(5, Some(NativeMode::Tagged))],
        });
        assert_eq!(conv(&i, GuestType::Hvm).unwrap_err()[0].key(), "<vlan>");
    }

    #[test]
    fn linux_bridge_vlans_become_vlan_key() {
        let mut i = bridge("br0");
        i.vlan = Some(Vlan {
            trunk: false,
            tags: vec![tag(10, None)],
        });
        assert_eq!(
            conv(&i, GuestType::Hvm).unwrap().0,
            "bridge=br0,script=vif-bridge,vlan=10"
        );
        i.vlan = Some(Vlan {
            trunk: true,
            tags: vec![
                tag(10, Some(NativeMode::Untagged)),
                tag(20, None),
                tag(21, None),
            ],
        });
        assert_eq!(
            conv(&i, GuestType::Hvm).unwrap().0,
            "bridge=br0,script=vif-bridge,vlan=10p/20-21"
        );
        i.vlan = Some(Vlan {
            trunk: true,
            tags: vec![tag(10, None), tag(20, None)],
        });
        assert!(matches!(
            conv(&i, GuestType::Hvm).unwrap_err()[0],
            InterfaceError::Vlan(VlanError::PvidRequired)
        ));
        i.vlan = Some(Vlan {
            trunk: true,
            tags: vec![tag(10, None)],
        });
        assert_eq!(conv(&i, GuestType::Hvm).unwrap_err()[0].key(), "<vlan>");
    }

    #[test]
    fn types() {
        let d = Interface::new(InterfaceType::Other("direct".into()));
        assert_eq!(conv(&d, GuestType::Hvm).unwrap_err()[0].key(), "direct");
        let mut n = Interface::new(InterfaceType::Network);
        n.source_network = Some("default".into());
        assert_eq!(conv(&n, GuestType::Hvm).unwrap_err()[0].key(), "default");
        let map = NetworkMap(vec![("default".to_owned(), "virbr0".to_owned())]);
        let (s, _) = interface_to_vif(&n, &[], GuestType::Hvm, &map).unwrap();
        assert_eq!(s.to_string(), "bridge=virbr0,script=vif-bridge");
        n.source_bridge = Some("virbr9".into());
        assert_eq!(
            conv(&n, GuestType::Hvm).unwrap().0,
            "bridge=virbr9,script=vif-bridge"
        );
        assert_eq!(
            conv(&Interface::new(InterfaceType::Bridge), GuestType::Hvm).unwrap_err()[0].key(),
            "<source bridge>"
        );
    }

    #[test]
    fn models() {
        let mut i = bridge("br0");
        i.model = Some("netfront".into());
        assert_eq!(
            conv(&i, GuestType::Pv).unwrap().0,
            "bridge=br0,script=vif-bridge,type=vif"
        );
        i.model = Some("e1000".into());
        assert_eq!(conv(&i, GuestType::Pv).unwrap_err()[0].key(), "<model>");
        assert_eq!(
            conv(&i, GuestType::Hvm).unwrap().0,
            "bridge=br0,script=vif-bridge,model=e1000"
        );
    }

    #[test]
    fn values_never_add_keys() {
        let err = |i: &Interface<'_>| conv(i, GuestType::Hvm).unwrap_err()[0].key().to_owned();
        let mut i = bridge("br0");
        i.model = Some("e1000,script=/tmp/evil.sh".into());
        assert_eq!(err(&i), "<model type>");
        let mut i = bridge("br0");
        i.script = Some("vif-bridge,mac=00:16:3e:00:00:02".into());
        assert_eq!(err(&i), "<script path>");
        let mut i = bridge("br0");
        i.backend_domain = Some("dom0,rate=1MB/s".into());
        assert_eq!(err(&i), "<backenddomain name>");
        assert_eq!(err(&bridge("b,vlan=5")), "<source bridge>");
        assert_eq!(err(&bridge("br0 ")), "<source bridge>");
        assert_eq!(err(&bridge("xen\u{200b}br0")), "<source bridge>");
        let mut i = bridge("br0");
        i.target_dev = Some("web0,ip=10.0.0.1".into());
        assert_eq!(err(&i), "<target dev>");
        // A network's bridge, from --network or libvirt, too.
        let mut n = Interface::new(InterfaceType::Network);
        n.source_network = Some("default".into());
        let map = NetworkMap(vec![("default".to_owned(), "virbr0,vlan=5".to_owned())]);
        let e = interface_to_vif(&n, &[], GuestType::Hvm, &map).unwrap_err();
        assert_eq!(e[0].key(), "<source bridge>");
        // The message shows the value escaped.
        let mut i = bridge("br0");
        i.script = Some("a\nerror: forged".into());
        let e = conv(&i, GuestType::Hvm).unwrap_err();
        assert_eq!(
            crate::diag::error_chain(&e[0]),
            "Invalid <script path> `a\\nerror: forged`: Contains '\\n', a character that \
             cannot be seen"
        );
    }

    #[test]
    fn ovs_names_and_ids_read_back() {
        let mut i = bridge("ovs.br");
        i.virtualport = Some("openvswitch".into());
        assert_eq!(
            conv(&i, GuestType::Hvm).unwrap_err()[0].key(),
            "<source bridge>"
        );
        let mut i = bridge("ovsbr0");
        i.virtualport = Some("openvswitch".into());
        i.vlan = Some(Vlan {
            trunk: false,
            tags: vec![tag(4095, None)],
        });
        assert_eq!(conv(&i, GuestType::Hvm).unwrap_err()[0].key(), "<vlan>");
        i.vlan = Some(Vlan {
            trunk: true,
            tags: vec![tag(5, Some(NativeMode::Untagged)), tag(0, None)],
        });
        assert_eq!(conv(&i, GuestType::Hvm).unwrap_err()[0].key(), "<vlan>");
        // A Linux bridge with a dot is written with script=vif-bridge: read back as is.
        assert_eq!(
            conv(&bridge("br.5"), GuestType::Hvm).unwrap().0,
            "bridge=br.5,script=vif-bridge"
        );
    }

    #[test]
    fn generated_target_names_are_not_kept() {
        for dev in ["vnet3", "vif41.0-emu", "macvtap0", "macvlan2", "vif5.0"] {
            let mut i = bridge("br0");
            i.target_dev = Some(dev.to_owned().into());
            let (s, w) = conv(&i, GuestType::Hvm).unwrap();
            assert_eq!(s, "bridge=br0,script=vif-bridge", "{dev}");
            assert_eq!(w.len(), 1);
            assert_eq!(w[0].key, "<target dev>");
            assert!(w[0].message.contains(dev));
        }
        let mut i = bridge("br0");
        i.target_dev = Some("web0".into());
        let (s, w) = conv(&i, GuestType::Hvm).unwrap();
        assert_eq!(s, "bridge=br0,script=vif-bridge,vifname=web0");
        assert!(w.is_empty());
    }

    #[test]
    fn model_notices_match_vif2xml() {
        let mut i = bridge("br0");
        i.model = Some("virtio".into());
        let (s, w) = conv(&i, GuestType::Hvm).unwrap();
        assert_eq!(s, "bridge=br0,script=vif-bridge,model=virtio");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].key, "<model>");
        let (spec, _) =
            VifSpec::parse("model=virtio", crate::vif::ParseOptions::default()).unwrap();
        let (_, vw) = crate::to_xml::vif_to_interface(
            &spec,
            GuestType::Hvm,
            &crate::to_xml::Defaults::default(),
        )
        .unwrap();
        // The same notice after the subject.
        let tail = |m: &str| m.split_once(": ").unwrap().1.to_owned();
        assert_eq!(tail(&w[0].message), tail(&vw[0].message));
        for known in ["e1000", "rtl8139", "e1000e", "vmxnet3", "virtio-net-pci"] {
            i.model = Some(known.to_owned().into());
            assert!(conv(&i, GuestType::Hvm).unwrap().1.is_empty(), "{known}");
        }
        i.model = Some("a.b".into());
        assert_eq!(
            conv(&i, GuestType::Hvm).unwrap_err()[0].key(),
            "<model type>"
        );
    }

    #[test]
    fn dropped_things_warn_and_bad_names_fail() {
        let i = bridge("br0");
        let d = [
            Dropped {
                path: "link".into(),
            },
            Dropped {
                path: "ip/@peer".into(),
            },
        ];
        let (_, w) = interface_to_vif(&i, &d, GuestType::Hvm, &()).unwrap();
        assert_eq!(
            w.iter().map(|w| w.key.as_ref()).collect::<Vec<_>>(),
            ["<link>", "peer attribute of <ip>"]
        );
        let mut i = bridge("br0");
        i.target_dev = Some("a/b".into());
        assert_eq!(
            conv(&i, GuestType::Hvm).unwrap_err()[0].key(),
            "<target dev>"
        );
        assert_eq!(
            conv(&bridge("bad name"), GuestType::Hvm).unwrap_err()[0].key(),
            "<source bridge>"
        );
    }
}
