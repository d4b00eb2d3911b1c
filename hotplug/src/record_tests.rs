//! The hotplug script's records, run for real in a network namespace each test creates,
//! against a directory xenstore and a registry in a scratch directory.

use translator::IfName;

use super::tests::{host, req, Scratch};
use super::xenstore::{DirStore, XenStore};
use super::*;
use hostnet::netlink::testns::{all_links, in_netns, veth};
use hostnet::netlink::BridgeConfig;
use registry::{
    Attachment, AttachmentState, Bridge, BridgeKind, DomainName, Driver, Registry, RegistryError,
    SqliteRegistry,
};

const UUID: &str = "6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60";
const PV: &[(&str, &str)] = &[("vif", "vif5.2"), ("XENBUS_PATH", "backend/vif/5/2")];
const TWIN: &[(&str, &str)] = &[
    ("vif", "vif5.2"),
    ("INTERFACE", "vif5.2-emu"),
    ("XENBUS_PATH", "backend/vif/5/2"),
];

fn n(s: &str) -> IfName {
    IfName::new(s).unwrap()
}

/// br900 present and registered (not creatable); domain 5 is `alice`; its NIC 2 is on
/// br900 with MAC `mac`.
fn setup(nl: &Netlink, s: &Scratch, mac: &str) -> (DirStore, SqliteRegistry) {
    let store = s.store();
    let reg = SqliteRegistry::open(s.0.join("registry.db")).unwrap();
    reg.add_bridge(&Bridge::new(n("br900"), BridgeKind::Linux))
        .unwrap();
    nl.ensure_bridge(&n("br900"), &BridgeConfig::default())
        .unwrap();
    store.write("/local/domain/5/name", "alice").unwrap();
    store
        .write("/local/domain/5/vm", &format!("/vm/{UUID}"))
        .unwrap();
    store.write("backend/vif/5/2/bridge", "br900").unwrap();
    store.write("backend/vif/5/2/mac", mac).unwrap();
    (store, reg)
}

fn bob_with(mac: &str) -> Attachment {
    Attachment::xen(
        DomainName::new("bob").unwrap(),
        6,
        0,
        mac.parse().unwrap(),
        n("br900"),
        false,
    )
    .unwrap()
}

#[test]
#[ignore = "needs root: network namespaces"]
fn the_pair_is_recorded_and_dropped_with_its_devices() {
    in_netns("the_pair_is_recorded_and_dropped_with_its_devices", |nl| {
        let s = Scratch::new("record");
        let (store, reg) = setup(nl, &s, "00:16:3e:00:05:02");
        veth(nl, "vif5.2", "peer52");
        veth(nl, "vif5.2-emu", "peer52e");

        run(
            &store,
            &host(nl, Some(&reg)),
            &req(&["online"], PV).unwrap(),
        )
        .unwrap();
        let a = reg
            .attachment(Driver::Xen, 5, 2)
            .unwrap()
            .expect("recorded");
        assert_eq!(a.domain_name.as_str(), "alice");
        assert_eq!(a.domain_uuid.map(|u| u.to_string()).as_deref(), Some(UUID));
        assert_eq!((a.backend.as_str(), a.emulated), ("vif5.2", None));
        assert_eq!(a.mac.to_string(), "00:16:3e:00:05:02");
        assert_eq!(
            (a.bridge.as_str(), a.state),
            ("br900", AttachmentState::Active)
        );

        let twin = req(&["add", "type_if=tap"], TWIN).unwrap();
        run(&store, &host(nl, Some(&reg)), &twin).unwrap();
        let a = reg.attachment(Driver::Xen, 5, 2).unwrap().unwrap();
        assert_eq!(a.emulated.as_ref().map(IfName::as_str), Some("vif5.2-emu"));
        assert_eq!(a.state, AttachmentState::Active);
        // Both twins are found by their device names.
        assert_eq!(
            reg.attachment_by_device(&n("vif5.2-emu")).unwrap(),
            Some(a.clone())
        );

        // Online again: the same record, nothing else.
        run(
            &store,
            &host(nl, Some(&reg)),
            &req(&["online"], PV).unwrap(),
        )
        .unwrap();
        assert_eq!(reg.attachments().unwrap(), vec![a]);

        let twin_off = req(&["remove", "type_if=tap"], TWIN).unwrap();
        run(&store, &host(nl, Some(&reg)), &twin_off).unwrap();
        assert_eq!(
            reg.attachment(Driver::Xen, 5, 2).unwrap().unwrap().emulated,
            None
        );
        run(
            &store,
            &host(nl, Some(&reg)),
            &req(&["offline"], PV).unwrap(),
        )
        .unwrap();
        assert_eq!(reg.attachments().unwrap(), vec![]);
    });
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_mac_clash_refuses_the_vif_and_changes_nothing() {
    in_netns("a_mac_clash_refuses_the_vif_and_changes_nothing", |nl| {
        let s = Scratch::new("clash");
        let (store, reg) = setup(nl, &s, "00:16:3e:00:06:00");
        let bob = bob_with("00:16:3e:00:06:00");
        reg.record(&bob).unwrap();
        // bob runs, as xenstore says.
        store.write("/local/domain/6/name", "bob").unwrap();
        veth(nl, "vif5.2", "peer52");
        let links = all_links(nl);
        let err = run(
            &store,
            &host(nl, Some(&reg)),
            &req(&["online"], PV).unwrap(),
        )
        .unwrap_err();
        assert!(
            matches!(err, HotplugError::Registry(RegistryError::MacClash { .. })),
            "{err}"
        );
        assert_eq!(all_links(nl), links, "the port was wired");
        assert_eq!(reg.attachments().unwrap(), vec![bob]);
        assert_eq!(
            store
                .read("backend/vif/5/2/hotplug-status")
                .unwrap()
                .as_deref(),
            Some("error")
        );
    });
}

#[test]
#[ignore = "needs root: network namespaces"]
fn a_failed_wiring_puts_the_old_record_back() {
    in_netns("a_failed_wiring_puts_the_old_record_back", |nl| {
        let s = Scratch::new("restore");
        let (store, reg) = setup(nl, &s, "00:16:3e:00:05:09");
        // No vif5.2 device: the wiring fails after the record was written.
        let err = run(
            &store,
            &host(nl, Some(&reg)),
            &req(&["online"], PV).unwrap(),
        )
        .unwrap_err();
        assert!(matches!(err, HotplugError::Netlink(_)), "{err}");
        assert_eq!(reg.attachments().unwrap(), vec![]);

        // A record from an earlier life of the NIC comes back as it was.
        let mut old = Attachment::xen(
            DomainName::new("alice").unwrap(),
            5,
            2,
            "00:16:3e:00:05:01".parse().unwrap(),
            n("br900"),
            false,
        )
        .unwrap();
        old.state = AttachmentState::Stopped;
        reg.record(&old).unwrap();
        run(
            &store,
            &host(nl, Some(&reg)),
            &req(&["online"], PV).unwrap(),
        )
        .unwrap_err();
        assert_eq!(reg.attachments().unwrap(), vec![old]);
    });
}

#[test]
#[ignore = "needs root: network namespaces"]
fn nics_on_bridges_the_registry_does_not_know_are_wired_not_recorded() {
    in_netns("nics_on_bridges_the_registry_does_not_know", |nl| {
        let s = Scratch::new("unknown");
        let (store, reg) = setup(nl, &s, "00:16:3e:00:05:02");
        nl.ensure_bridge(&n("br-free"), &BridgeConfig::default())
            .unwrap();
        store.write("backend/vif/5/2/bridge", "br-free").unwrap();
        veth(nl, "vif5.2", "peer52");
        run(
            &store,
            &host(nl, Some(&reg)),
            &req(&["online"], PV).unwrap(),
        )
        .unwrap();
        let br = nl.link(&n("br-free")).unwrap().unwrap();
        assert_eq!(
            nl.link(&n("vif5.2")).unwrap().unwrap().master,
            Some(br.index)
        );
        assert_eq!(reg.attachments().unwrap(), vec![]);
    });
}

/// A record in alice's way whose guest is gone is replaced, and the run says so: one
/// written in another boot (bob runs again, as domain 6, yet his old record is of a
/// domain gone with the boot), and one whose domain xenstore does not know.
#[test]
#[ignore = "needs root: network namespaces"]
fn a_stale_record_is_replaced_and_said() {
    in_netns("a_stale_record_is_replaced_and_said", |nl| {
        let s = Scratch::new("stale");
        let (store, reg) = setup(nl, &s, "00:16:3e:00:06:00");
        veth(nl, "vif5.2", "peer52");
        veth(nl, "vif6.0", "peer60");
        store.write("/local/domain/6/name", "bob").unwrap();
        let mut bob = bob_with("00:16:3e:00:06:00");
        bob.boot_id = Some("6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60".parse().unwrap());
        reg.record(&bob).unwrap();
        let said = std::cell::RefCell::new(Vec::<String>::new());
        let log = |l: &str| said.borrow_mut().push(l.to_owned());
        let h = Host {
            log: &log,
            hooks: None,
            ..host(nl, Some(&reg))
        };
        run(&store, &h, &req(&["online"], PV).unwrap()).unwrap();
        let a = reg
            .attachment(Driver::Xen, 5, 2)
            .unwrap()
            .expect("recorded");
        assert_eq!(a.domain_name.as_str(), "alice");
        assert_eq!(reg.attachments().unwrap(), vec![a]);
        assert_eq!(
            said.take(),
            [
                "dropped the stale record of Xen domain \"bob\" (id 6) device 0 (vif6.0): it \
                 was written in boot 6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60, not this boot "
                    .to_owned()
                    + &registry::BootId::current().unwrap().to_string()
            ]
        );

        // carol's record, of this boot, with her device still there: xenstore has no
        // domain 7, so it is stale all the same.
        run(&store, &h, &req(&["offline"], PV).unwrap()).unwrap();
        let mut carol = bob_with("00:16:3e:00:06:00");
        carol.domain_name = DomainName::new("carol").unwrap();
        carol.domid = 7;
        carol.backend = n("vif7.0");
        veth(nl, "vif7.0", "peer70");
        reg.record(&carol).unwrap();
        run(&store, &h, &req(&["online"], PV).unwrap()).unwrap();
        assert_eq!(
            said.take(),
            [
                "dropped the stale record of Xen domain \"carol\" (id 7) device 0 (vif7.0): its \
              domain is not running (xenstore says)"
            ]
        );
        assert_eq!(reg.attachments().unwrap().len(), 1);
        assert_eq!(
            store
                .read("backend/vif/5/2/hotplug-status")
                .unwrap()
                .as_deref(),
            Some("connected")
        );
    });
}
