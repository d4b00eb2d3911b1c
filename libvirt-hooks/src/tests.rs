//! The hook logic without the kernel: interface checks and the migrate/restore filter.

use super::*;
use registry::SqliteRegistry;

/// An Open vSwitch handle whose `ovs-vsctl` does not exist: any use fails.
pub(crate) fn no_ovs() -> hostnet::ovs::Ovs {
    hostnet::ovs::Ovs::new().with_program("/nonexistent/ovs-vsctl")
}

fn with_host<T>(f: impl FnOnce(&Host<'_>, &MemoryLog) -> T) -> T {
    let dir = tempfile::tempdir().unwrap();
    let reg = SqliteRegistry::open(dir.path().join("r.db")).unwrap();
    let nl = LazyNetlink::new();
    let ovs = no_ovs();
    let log = MemoryLog::default();
    let host = Host {
        registry: &reg,
        nl: &nl,
        ovs: &ovs,
        log: &log,
        network_state: std::path::Path::new("/nonexistent/vifkit-test/network"),
    };
    let out = f(&host, &log);
    assert!(!nl.is_open(), "no netlink needed here");
    out
}

const PV: &str =
    "<domain type='xen'>\n  <name>pv1</name>\n  <os>\n    <type>xen</type>\n  </os>\n  \
    <devices>\n    <interface type='bridge'>\n      <mac address='00:16:3e:00:00:01'/>\n      \
    <source bridge='xenbr0'/>\n      <model type='e1000'/>\n    </interface>\n    \
    <interface type='bridge'>\n      <source bridge='bad/name'/>\n    </interface>\n  \
    </devices>\n</domain>\n";

#[test]
fn libxl_checks_are_the_translators_and_name_every_interface() {
    let dom = Domain::parse(PV).unwrap();
    let e = plan_nics(Driver::Libxl, &dom).unwrap_err().into_list();
    let lines: Vec<String> = e.iter().map(|e| translator::diag::error_chain(e)).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("Guest pv1 interface[0]: <model>: Model `e1000` on a pv guest"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("Guest pv1 interface[1]: Invalid <source bridge> `bad/name`"),
        "{lines:?}"
    );
    // QEMU has no PV guests: the model is QEMU's business; the bridge name is not.
    let e = plan_nics(Driver::Qemu, &dom).unwrap_err().into_list();
    assert_eq!(e.len(), 1);
    assert!(matches!(&e[0], HookError::Interface { index: 1, .. }));
}

#[test]
fn plans_say_what_each_nic_is() {
    let xml = "<domain type='xen' id='3'><name>h</name><os><type>hvm</type></os><devices>\
        <interface type='bridge'><mac address='00:16:3e:00:00:01'/><source bridge='br0'/>\
        <vlan trunk='yes'><tag id='10' nativeMode='untagged'/><tag id='20'/></vlan>\
        <bandwidth><inbound average='100' burst='64'/></bandwidth></interface>\
        <interface type='bridge'><mac address='00:16:3e:00:00:02'/><source bridge='br1'/>\
        <model type='netfront'/><target dev='web0'/></interface>\
        <interface type='network'><source network='default'/></interface>\
        <interface type='hostdev'><source><address type='pci' domain='0' bus='1' slot='0' function='0'/></source></interface>\
        </devices></domain>";
    let dom = Domain::parse(xml).unwrap();
    let p = plan_nics(Driver::Libxl, &dom).unwrap();
    assert_eq!(p.len(), 4);
    assert_eq!(p[0].bridge.as_ref().unwrap().as_str(), "br0");
    assert!(p[0].emulated);
    assert_eq!(p[0].vlan.as_ref().unwrap().to_string(), "10p/20");
    assert_eq!(
        p[0].inbound,
        Some(Bandwidth {
            average: 100,
            burst: Some(64)
        })
    );
    assert!(!p[1].emulated);
    assert_eq!(p[1].target.as_deref(), Some("web0"));
    assert_eq!(p[2].kind, NicKind::Network);
    assert_eq!(p[2].bridge, None);
    assert_eq!(p[3].kind, NicKind::Other("hostdev".into()));
    // For QEMU no NIC has an emulated twin.
    let q = plan_nics(Driver::Qemu, &dom).unwrap();
    assert!(q.iter().all(|p| !p.emulated));
    assert_eq!(q[0].vlan, p[0].vlan);
}

#[test]
fn a_trunk_without_native_vlan_is_refused_on_a_linux_bridge() {
    let xml = "<domain type='kvm'><name>q</name><devices><interface type='bridge'>\
        <source bridge='br0'/><vlan trunk='yes'><tag id='10'/><tag id='20'/></vlan>\
        </interface><interface type='bridge'><source bridge='ovs0'/>\
        <virtualport type='openvswitch'/><vlan trunk='yes'><tag id='10'/><tag id='20' nativeMode='tagged'/></vlan>\
        </interface></devices></domain>";
    let dom = Domain::parse(xml).unwrap();
    let e = plan_nics(Driver::Qemu, &dom).unwrap_err().into_list();
    // The Open vSwitch one is libvirt's own business under QEMU.
    assert_eq!(e.len(), 1);
    assert!(
        matches!(&e[0], HookError::Interface { index: 0, .. }),
        "{e:?}"
    );
}

const LIVE: &str = "<domain type='kvm' id='4'>\n  <name>q1</name>\n  <devices>\n    \
    <interface type='bridge'>\n      <mac address='52:54:00:00:00:01'/>\n      \
    <source bridge='br0'/>\n      <target dev='vnet7'/>\n      <model type='virtio'/>\n      \
    <alias name='net0'/>\n    </interface>\n    <interface type='ethernet'>\n      \
    <target dev='vnet8' managed='no'/>\n    </interface>\n    <interface type='bridge'>\n      \
    <source bridge='br0'/>\n      <target dev='mine0'/>\n    </interface>\n  </devices>\n</domain>\n";

#[test]
fn the_filter_drops_only_generated_target_names() {
    with_host(|host, log| {
        let out = filter_domain(host, Driver::Qemu, "q1", LIVE)
            .unwrap()
            .unwrap();
        assert_eq!(out, LIVE.replace("      <target dev='vnet7'/>\n", ""));
        assert_eq!(
            out.len(),
            LIVE.len() - "      <target dev='vnet7'/>\n".len()
        );
        assert_eq!(
            log.texts(Level::Info),
            ["q1: interface[0]: dropped generated <target dev='vnet7'/>"]
        );
        // Filtering again changes nothing: nothing printed.
        assert_eq!(filter_domain(host, Driver::Qemu, "q1", &out).unwrap(), None);
    });
}

#[test]
fn the_filter_refuses_what_prepare_would() {
    with_host(|host, _| {
        let e = filter_domain(host, Driver::Libxl, "pv1", PV).unwrap_err();
        assert_eq!(e.into_list().len(), 2);
        let e = filter_domain(host, Driver::Qemu, "x", "<domain><name>x</name>").unwrap_err();
        assert!(matches!(e, HookError::Domain { .. }));
    });
}

#[test]
fn qemu_vlans_become_the_port_vlan_request() {
    use hostnet::netlink::{PortVlan, PortVlans};
    let dom = Domain::parse(
        "<domain type='kvm' id='2'><name>q</name><devices>\
         <interface type='bridge'><source bridge='br0'/><vlan><tag id='42'/></vlan>\
         <target dev='vnet0'/></interface>\
         <interface type='bridge'><source bridge='br0'/><vlan trunk='yes'>\
         <tag id='20'/><tag id='10' nativeMode='untagged'/></vlan><target dev='vnet1'/></interface>\
         <interface type='bridge'><source bridge='ovs0'/><virtualport type='openvswitch'/>\
         <vlan><tag id='7'/></vlan><target dev='vnet2'/></interface>\
         </devices></domain>",
    )
    .unwrap();
    let p = plan_nics(Driver::Qemu, &dom).unwrap();
    let req = |i: usize| p[i].vlan.as_ref().map(PortVlans::from);
    let v = |id, pvid, untagged| PortVlan { id, pvid, untagged };
    assert_eq!(req(0).unwrap().vlans(), [v(42, true, true)]);
    assert_eq!(
        req(1).unwrap().vlans(),
        [v(10, true, true), v(20, false, false)]
    );
    // Open vSwitch VLANs are libvirt's (ovs-vsctl tag/trunks): no Linux bridge request.
    assert_eq!(req(2), None);
}

#[test]
fn libxl_inbound_bandwidth_is_the_ports_egress_limit() {
    let l = guest::inbound_limit(Bandwidth {
        average: 1024,
        burst: Some(256),
    })
    .unwrap();
    let e = l.egress.unwrap();
    assert_eq!(e.bytes_per_sec(), 1024 * 1024);
    assert_eq!(e.burst(), 256 * 1024);
    assert_eq!(l.ingress, None);
}

#[test]
fn started_records_in_one_step_and_skips_ids_xen_cannot_have() {
    use registry::{Bridge, BridgeKind};
    with_host(|host, log| {
        let br0 = translator::IfName::new("br0").unwrap();
        host.registry
            .add_bridge(&Bridge::new(br0, BridgeKind::Linux))
            .unwrap();
        let xml = |kind: &str, id: u32, tap: &str| {
            format!(
                "<domain type='{kind}' id='{id}'><name>q</name><devices><interface type='bridge'>\
                 <mac address='52:54:00:00:00:01'/><source bridge='br0'/><target dev='{tap}'/>\
                 </interface></devices></domain>"
            )
        };
        let req = |driver, op: &str| Request::from_args(driver, &["q", op, "begin", "-"]).unwrap();
        // No Xen domain has id 40000: not recorded, with a warning.
        let xen = xml("xen", 40000, "vif40000.0");
        assert_eq!(
            run(host, &req(Driver::Libxl, "started"), &xen).unwrap(),
            None
        );
        assert!(host.registry.attachments().unwrap().is_empty());
        assert!(log.texts(Level::Warning)[0].contains("domain id 40000 is beyond"));
        // A QEMU domain may (libvirt numbers them on from 1 at every start).
        let qemu = xml("kvm", 40000, "vnet0");
        run(host, &req(Driver::Qemu, "started"), &qemu).unwrap();
        let a = host.registry.attachments().unwrap();
        assert_eq!(
            (a.len(), a[0].driver, a[0].domid, a[0].backend.as_str()),
            (1, registry::Driver::Qemu, 40000, "vnet0")
        );
        run(host, &req(Driver::Qemu, "started"), &xml("kvm", 4, "vnet0")).unwrap();
        let a = host.registry.attachments().unwrap();
        assert_eq!((a.len(), a[0].domid), (1, 4));
        // Started again under a new id (libvirt restarted it): the old record goes.
        run(host, &req(Driver::Qemu, "started"), &xml("kvm", 5, "vnet0")).unwrap();
        let a = host.registry.attachments().unwrap();
        assert_eq!((a.len(), a[0].domid), (1, 5));
    });
}

/// `started` records each NIC's `<model type>` (libvirt writes its default model into
/// live XML); a NIC without one is recorded without, and a model a record cannot take
/// is logged and left out, never failing the start.
#[test]
fn started_records_each_nics_model() {
    use registry::{Bridge, BridgeKind};
    with_host(|host, log| {
        let br0 = translator::IfName::new("br0").unwrap();
        host.registry
            .add_bridge(&Bridge::new(br0, BridgeKind::Linux))
            .unwrap();
        let nic = |n: u8, model: &str| {
            format!(
                "<interface type='bridge'><mac address='52:54:00:00:00:0{n}'/>\
                 <source bridge='br0'/><target dev='vnet{n}'/>{model}</interface>"
            )
        };
        let xml = format!(
            "<domain type='qemu' id='2'><name>m</name><devices>{}{}{}{}{}</devices></domain>",
            nic(1, "<model type='e1000'/>"),
            nic(2, "<model type='rtl8139'/>"),
            nic(3, "<model type='virtio'/>"),
            nic(4, ""),
            nic(5, "<model type='e1000 x'/>"),
        );
        let req = Request::from_args(Driver::Qemu, &["m", "started", "begin", "-"]).unwrap();
        run(host, &req, &xml).unwrap();
        let models: Vec<(u32, Option<String>)> = host
            .registry
            .attachments()
            .unwrap()
            .into_iter()
            .map(|a| (a.devid, a.model.map(|m| m.to_string())))
            .collect();
        let s = |m: &str| Some(m.to_owned());
        assert_eq!(
            models,
            [
                (0, s("e1000")),
                (1, s("rtl8139")),
                (2, s("virtio")),
                (3, None),
                (4, None)
            ]
        );
        assert_eq!(
            log.texts(Level::Warning),
            [
                "m: interface[4]: recorded without its model: NIC model \"e1000 x\" is refused: \
              it holds a character other than ASCII letters, digits, `_`, `-` and `.`"
            ]
        );
        // libxl records the model too (the emulated twin's hardware).
        let xen = "<domain type='xen' id='3'><name>h</name><os><type>hvm</type></os>\
                   <devices><interface type='bridge'><mac address='00:16:3e:00:00:01'/>\
                   <source bridge='br0'/><model type='e1000'/></interface></devices></domain>";
        let req = Request::from_args(Driver::Libxl, &["h", "started", "begin", "-"]).unwrap();
        run(host, &req, xen).unwrap();
        let a = host
            .registry
            .attachment(registry::Driver::Xen, 3, 0)
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.emulated.unwrap().as_str(), a.model.unwrap().as_str()),
            ("vif3.0-emu", "e1000")
        );
    });
}

/// A record written in another boot is of a guest gone with that boot: `started` of a
/// guest with its MAC drops it and says so (no netlink needed), and so does the network
/// hook's `port-created`. (`prepare`, which needs the kernel, is in tests/hooks.rs.)
#[test]
fn a_record_of_another_boot_gives_way_to_a_starting_guest() {
    use registry::{Attachment, Bridge, BridgeKind, DomainName};
    let old_boot: registry::BootId = "6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60".parse().unwrap();
    with_host(|host, log| {
        let br0 = translator::IfName::new("br0").unwrap();
        host.registry
            .add_bridge(&Bridge::new(br0.clone(), BridgeKind::Linux))
            .unwrap();
        let alice = |boot| {
            let mut a = Attachment::xen(
                DomainName::new("alice").unwrap(),
                7,
                0,
                "52:54:00:00:00:01".parse().unwrap(),
                br0.clone(),
                false,
            )
            .unwrap();
            a.boot_id = boot;
            a
        };
        host.registry.record(&alice(Some(old_boot))).unwrap();
        let xml = "<domain type='kvm' id='3'><name>bob</name><devices><interface type='bridge'>\
                   <mac address='52:54:00:00:00:01'/><source bridge='br0'/>\
                   <target dev='vnet3'/></interface></devices></domain>";
        let req = |op: &str| Request::from_args(Driver::Qemu, &["bob", op, "begin", "-"]).unwrap();
        run(host, &req("started"), xml).unwrap();
        let all = host.registry.attachments().unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].domain_name.as_str(), all[0].domid), ("bob", 3));
        assert_eq!(
            log.texts(Level::Info)[0],
            format!(
                "bob: dropped the stale record of Xen domain \"alice\" (id 7) device 0 \
                 (vif7.0): it was written in boot {old_boot}, not this boot {}",
                registry::BootId::current().unwrap()
            )
        );
        // A record of this boot holding the MAC: refused as before (the kernel is asked
        // about its device only then).
        let err = host.registry.record(&alice(registry::BootId::current()));
        assert!(
            matches!(err, Err(registry::RegistryError::MacClash { .. })),
            "{err:?}"
        );
        // port-created of a port with bob's MAC, whose record is of another boot too.
        let mut bob = all[0].clone();
        bob.boot_id = Some(old_boot);
        host.registry.record(&bob).unwrap();
        // (A port with no bridge: one on a bridge asks the kernel whether it is there.)
        let port = "<hookData><network><name>lan</name></network><networkport><owner>\
                    <name>carol</name></owner><mac address='52:54:00:00:00:01'/>\
                    </networkport></hookData>";
        let req =
            Request::from_args(Driver::Network, &["lan", "port-created", "begin", "-"]).unwrap();
        run(host, &req, port).unwrap();
        assert!(host.registry.attachments().unwrap().is_empty());
        assert!(log.texts(Level::Info).iter().any(|l| l.starts_with(
            "network lan: dropped the stale record of QEMU domain \"bob\" (id 3) device 0"
        )));
    });
}

/// Points this thread's bridge lock at `dir` while `f` runs.
fn with_lock_dir<T>(dir: &std::path::Path, f: impl FnOnce() -> T) -> T {
    crate::lock::TEST_DIR.with(|d| *d.borrow_mut() = Some(dir.to_owned()));
    let out = f();
    crate::lock::TEST_DIR.with(|d| *d.borrow_mut() = None);
    out
}

/// A lock directory other users may enter (so the lock cannot be trusted).
fn open_lock_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn prepare_without_the_bridge_lock_fails_before_claiming_or_making_anything() {
    use registry::{Bridge, BridgeKind};
    let locks = open_lock_dir();
    with_host(|host, log| {
        let br0 = translator::IfName::new("br0").unwrap();
        let mut b = Bridge::new(br0.clone(), BridgeKind::Linux);
        b.creatable = true;
        host.registry.add_bridge(&b).unwrap();
        let xml = "<domain type='kvm'><name>q</name><devices><interface type='bridge'>\
                   <mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>\
                   </devices></domain>";
        let req = Request::from_args(Driver::Qemu, &["q", "prepare", "begin", "-"]).unwrap();
        let e = with_lock_dir(locks.path(), || run(host, &req, xml)).unwrap_err();
        assert!(matches!(e, HookError::Lock { .. }), "{e:?}");
        assert_eq!(
            translator::diag::error_chain(&e),
            format!(
                "Guest q: bridge lock: lock directory {} has mode 0755, which lets other \
                 users in: `chmod 700` it",
                locks.path().display()
            )
        );
        // Nothing claimed, no bridge made (no netlink opened: `with_host` checks).
        assert_eq!(host.registry.bridge_claims(&br0).unwrap(), []);
        assert!(log.texts(Level::Warning).is_empty());
    });
}

#[test]
fn stopped_without_the_bridge_lock_removes_no_bridge() {
    use registry::{Bridge, BridgeKind};
    let locks = open_lock_dir();
    with_host(|host, _| {
        let br0 = translator::IfName::new("br0").unwrap();
        let mut b = Bridge::new(br0.clone(), BridgeKind::Linux);
        b.creatable = true;
        host.registry.add_bridge(&b).unwrap();
        host.registry.set_bridge_made(&br0, true).unwrap();
        let xml = "<domain type='kvm'><name>q</name><devices><interface type='bridge'>\
                   <source bridge='br0'/></interface></devices></domain>";
        let req = Request::from_args(Driver::Qemu, &["q", "stopped", "end", "-"]).unwrap();
        let e = with_lock_dir(locks.path(), || run(host, &req, xml)).unwrap_err();
        assert!(matches!(e, HookError::Lock { .. }), "{e:?}");
        assert!(host.registry.bridge_made(&br0).unwrap());
    });
}

#[test]
fn a_guest_without_a_bridged_nic_needs_no_registry() {
    let dir = tempfile::tempdir().unwrap();
    let run_all = |path: &std::path::Path, ops: &[&str]| {
        let reg = registry::LazyRegistry::new(path);
        let nl = LazyNetlink::new();
        let ovs = no_ovs();
        let log = MemoryLog::default();
        let host = Host {
            registry: &reg,
            nl: &nl,
            ovs: &ovs,
            log: &log,
            network_state: std::path::Path::new("/nonexistent/vifkit-test/network"),
        };
        let xml = "<domain type='kvm' id='3'><name>q</name><devices></devices></domain>";
        let outs: Vec<_> = ops
            .iter()
            .map(|op| {
                let req = Request::from_args(Driver::Qemu, &["q", op, "begin", "-"]).unwrap();
                run(&host, &req, xml).map_err(|e| translator::diag::error_chain(&e))
            })
            .collect();
        assert!(!nl.is_open());
        (reg.is_open(), reg.is_open_to_write(), outs)
    };
    // `prepare` and `start` do not look at the registry at all.
    let missing = dir.path().join("none/registry.db");
    let (open, _, outs) = run_all(&missing, &["prepare", "start"]);
    assert!(!open);
    assert_eq!(outs, [Ok(None), Ok(None)]);
    // `started` reads it for stale records only, and writes nothing when there are none.
    let (open, write, outs) = run_all(&missing, &["started"]);
    assert!(open && !write);
    assert_eq!(outs, [Ok(None)]);
    assert!(!dir.path().join("none").exists());
    // A broken registry stops none of them; it is left as it was.
    let garbage = dir.path().join("registry.db");
    std::fs::write(&garbage, b"not a registry").unwrap();
    let (_, _, outs) = run_all(&garbage, &["prepare", "start", "started"]);
    assert_eq!(outs, [Ok(None), Ok(None), Ok(None)]);
    assert_eq!(std::fs::read(&garbage).unwrap(), b"not a registry");
}
