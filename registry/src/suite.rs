//! The behaviour every [`Registry`] promises, as a suite any backend runs: SQLite in
//! this crate's tests, etcd in `registry-etcd`'s. Each test gets a fresh, empty registry
//! from the backend's constructor ([`Make`]), and a way to open the same store again
//! (another connection, another process's view).
//!
//! [`registry_suite!`](crate::registry_suite) makes one `#[test]` per case;
//! [`ALL`] lists the cases for a backend that runs them in one test (one etcd cluster
//! for all). The generation is checked as the trait promises it: it grows with every
//! change and stays with every non-change (a shared store's may grow by more than one).

#![allow(missing_docs)]

use std::any::Any;
use std::error::Error as _;

use translator::vlan::VlanSpec;
use translator::MacAddr;

use crate::testutil::{attachment, bridge, ifname, mac_of};
use crate::{
    Attachment, AttachmentState, Bridge, BridgeKind, DomainKey, DomainName, DomainUuid, Driver,
    GuestName, ModelError, Mtu, NicModelName, Owner, Recorded, Registry, RegistryError, VlanId,
};

/// A fresh, empty registry, with what keeps its store alive.
pub struct Subject {
    /// The registry under test.
    pub reg: Box<dyn Registry>,
    /// Opens the same store again (a second connection).
    pub again: Box<dyn Fn() -> Box<dyn Registry>>,
    /// Dropped after the test (a temporary directory, ...).
    pub guard: Box<dyn Any>,
}

/// A backend's constructor.
pub type Make = dyn Fn() -> Subject;

/// A generation that grew since `before`; returns it.
fn grew(reg: &dyn Registry, before: u64) -> u64 {
    let now = reg.generation().unwrap();
    assert!(
        now > before,
        "the generation did not grow: {before} then {now}"
    );
    now
}

/// The generation is still `before`.
fn same(reg: &dyn Registry, before: u64) {
    assert_eq!(reg.generation().unwrap(), before, "the generation changed");
}

/// One case: its name and its function.
pub type Case = (&'static str, fn(&Make));

/// Every case, by name.
pub const ALL: &[Case] = &[
    (
        "made_by_vifkit_is_marked_and_cleared",
        made_by_vifkit_is_marked_and_cleared,
    ),
    ("add_get_list", add_get_list),
    ("adding_twice_is_refused", adding_twice_is_refused),
    ("update", update),
    ("invalid_bridges_are_refused", invalid_bridges_are_refused),
    (
        "an_uplink_device_belongs_to_one_bridge",
        an_uplink_device_belongs_to_one_bridge,
    ),
    ("a_bridge_is_no_uplink", a_bridge_is_no_uplink),
    ("remove", remove),
    (
        "a_bridge_in_use_is_not_removed",
        a_bridge_in_use_is_not_removed,
    ),
    (
        "claims_are_per_guest_and_only_on_registered_bridges",
        claims_are_per_guest_and_only_on_registered_bridges,
    ),
    (
        "a_qemu_guest_never_touches_the_claims_of_the_xen_guest_of_its_name",
        a_qemu_guest_never_touches_the_claims_of_the_xen_guest_of_its_name,
    ),
    (
        "a_domains_records_release_its_claims",
        a_domains_records_release_its_claims,
    ),
    (
        "record_inserts_updates_and_leaves_alone",
        record_inserts_updates_and_leaves_alone,
    ),
    (
        "a_qemu_domain_never_touches_the_xen_domain_of_its_id_or_name",
        a_qemu_domain_never_touches_the_xen_domain_of_its_id_or_name,
    ),
    (
        "a_mac_and_a_device_name_are_the_hosts_whatever_the_driver",
        a_mac_and_a_device_name_are_the_hosts_whatever_the_driver,
    ),
    (
        "recording_a_domain_again_never_duplicates",
        recording_a_domain_again_never_duplicates,
    ),
    ("every_field_round_trips", every_field_round_trips),
    ("lookups", lookups),
    ("mac_clash_is_a_clear_error", mac_clash_is_a_clear_error),
    (
        "a_mac_moves_when_its_nic_is_rerecorded",
        a_mac_moves_when_its_nic_is_rerecorded,
    ),
    (
        "device_name_clash_is_a_clear_error",
        device_name_clash_is_a_clear_error,
    ),
    ("an_unknown_bridge_is_refused", an_unknown_bridge_is_refused),
    (
        "an_invalid_attachment_is_refused_before_any_write",
        an_invalid_attachment_is_refused_before_any_write,
    ),
    ("set_state", set_state),
    ("remove_attachment", remove_attachment),
    (
        "remove_if_unchanged_keeps_a_record_rewritten_meanwhile",
        remove_if_unchanged_keeps_a_record_rewritten_meanwhile,
    ),
    (
        "remove_domain_by_id_name_and_uuid",
        remove_domain_by_id_name_and_uuid,
    ),
    (
        "replace_domain_resyncs_in_one_step",
        replace_domain_resyncs_in_one_step,
    ),
    (
        "replace_domain_errors_change_nothing",
        replace_domain_errors_change_nothing,
    ),
];

/// One `#[test]` per case of the suite, each calling `$make` (a `fn() -> Subject`).
#[macro_export]
macro_rules! registry_suite {
    ($make:path) => {
        $crate::registry_suite!(@each $make; made_by_vifkit_is_marked_and_cleared, add_get_list, adding_twice_is_refused, update, invalid_bridges_are_refused, an_uplink_device_belongs_to_one_bridge, a_bridge_is_no_uplink, remove, a_bridge_in_use_is_not_removed, claims_are_per_guest_and_only_on_registered_bridges, a_qemu_guest_never_touches_the_claims_of_the_xen_guest_of_its_name, a_domains_records_release_its_claims, record_inserts_updates_and_leaves_alone, a_qemu_domain_never_touches_the_xen_domain_of_its_id_or_name, a_mac_and_a_device_name_are_the_hosts_whatever_the_driver, recording_a_domain_again_never_duplicates, every_field_round_trips, lookups, mac_clash_is_a_clear_error, a_mac_moves_when_its_nic_is_rerecorded, device_name_clash_is_a_clear_error, an_unknown_bridge_is_refused, an_invalid_attachment_is_refused_before_any_write, set_state, remove_attachment, remove_if_unchanged_keeps_a_record_rewritten_meanwhile, remove_domain_by_id_name_and_uuid, replace_domain_resyncs_in_one_step, replace_domain_errors_change_nothing);
    };
    (@each $make:path; $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                $crate::suite::$name(&$make)
            }
        )*
    };
}

// ---- from registry/src/sqlite/bridges.rs

fn br900() -> Bridge {
    Bridge {
        name: ifname("br900"),
        kind: BridgeKind::Ovs,
        uplink: Some(ifname("bond0")),
        vlan: Some(VlanId::new(900).unwrap()),
        mtu: Some(Mtu::new(9000).unwrap()),
        stp: true,
        creatable: true,
    }
}

/// Part of the suite.
pub fn made_by_vifkit_is_marked_and_cleared(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    let name = ifname("br0");
    assert!(!reg.bridge_made(&name).unwrap());
    assert!(matches!(
        reg.set_bridge_made(&name, true),
        Err(RegistryError::UnknownBridge(_))
    ));
    reg.add_bridge(&bridge("br0")).unwrap();
    assert!(!reg.bridge_made(&name).unwrap());
    let g = reg.generation().unwrap();
    reg.set_bridge_made(&name, true).unwrap();
    assert!(reg.bridge_made(&name).unwrap());
    let g = grew(reg, g);
    // Setting it again writes nothing.
    reg.set_bridge_made(&name, true).unwrap();
    same(reg, g);
    // An update of the entry keeps the mark; removing the entry drops it.
    let mut b = bridge("br0");
    b.creatable = true;
    reg.update_bridge(&b).unwrap();
    assert!(reg.bridge_made(&name).unwrap());
    reg.set_bridge_made(&name, false).unwrap();
    assert!(!reg.bridge_made(&name).unwrap());
    reg.set_bridge_made(&name, true).unwrap();
    reg.remove_bridge(&name).unwrap();
    reg.add_bridge(&bridge("br0")).unwrap();
    assert!(!reg.bridge_made(&name).unwrap());
}

/// Part of the suite.
pub fn add_get_list(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    assert_eq!(reg.bridges().unwrap(), []);
    assert_eq!(reg.generation().unwrap(), 0);
    reg.add_bridge(&br900()).unwrap();
    reg.add_bridge(&bridge("br0")).unwrap();
    grew(reg, 0);
    assert_eq!(reg.bridge(&ifname("br900")).unwrap(), Some(br900()));
    assert_eq!(reg.bridge(&ifname("br1")).unwrap(), None);
    assert_eq!(reg.bridges().unwrap(), [bridge("br0"), br900()]);
}

/// Part of the suite.
pub fn adding_twice_is_refused(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    reg.add_bridge(&bridge("br0")).unwrap();
    let mut again = bridge("br0");
    again.stp = true;
    let err = reg.add_bridge(&again).unwrap_err();
    assert!(matches!(&err, RegistryError::BridgeExists(b) if b.as_str() == "br0"));
    assert_eq!(err.to_string(), "Bridge br0 is already in the registry");
    assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
}

/// Part of the suite.
pub fn update(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    let mut b = br900();
    reg.add_bridge(&b).unwrap();
    let g = reg.generation().unwrap();
    // Its own uplink device is no clash.
    b.mtu = None;
    b.kind = BridgeKind::Linux;
    reg.update_bridge(&b).unwrap();
    assert_eq!(reg.bridges().unwrap(), [b.clone()]);
    let g = grew(reg, g);
    reg.update_bridge(&b).unwrap();
    same(reg, g);
    let err = reg.update_bridge(&bridge("br1")).unwrap_err();
    assert!(matches!(&err, RegistryError::UnknownBridge(n) if n.as_str() == "br1"));
    assert_eq!(reg.bridges().unwrap(), [b]);
}

/// Part of the suite.
pub fn invalid_bridges_are_refused(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    let mut b = bridge("br900");
    b.vlan = Some(VlanId::new(900).unwrap());
    let err = reg.add_bridge(&b).unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Invalid(ModelError::VlanWithoutUplink { .. })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Bridge br900 has VLAN 900 but no uplink to carry it"
    );
    reg.add_bridge(&bridge("br900")).unwrap();
    let err = reg.update_bridge(&b).unwrap_err();
    assert!(matches!(err, RegistryError::Invalid(_)), "{err:?}");
    assert_eq!(reg.bridges().unwrap(), [bridge("br900")]);
}

/// Part of the suite.
pub fn an_uplink_device_belongs_to_one_bridge(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    reg.add_bridge(&br900()).unwrap();
    let mut other = bridge("brx");
    other.uplink = Some(ifname("bond0"));
    other.vlan = Some(VlanId::new(900).unwrap());
    let err = reg.add_bridge(&other).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Bridge brx: uplink device bond0.900 is already the uplink of bridge br900"
    );
    // The same uplink with another VLAN is fine, and so is the bare uplink.
    other.vlan = Some(VlanId::new(901).unwrap());
    reg.add_bridge(&other).unwrap();
    let mut bare = bridge("brbare");
    bare.uplink = Some(ifname("bond0"));
    reg.add_bridge(&bare).unwrap();
    // Moving a bridge onto a taken device is refused too.
    other.vlan = Some(VlanId::new(900).unwrap());
    assert!(matches!(
        reg.update_bridge(&other).unwrap_err(),
        RegistryError::UplinkInUse { .. }
    ));
    assert_eq!(reg.bridges().unwrap().len(), 3);
}

/// Part of the suite.
pub fn a_bridge_is_no_uplink(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    reg.add_bridge(&bridge("br0")).unwrap();
    let mut b = bridge("br1");
    b.uplink = Some(ifname("br0"));
    let err = reg.add_bridge(&b).unwrap_err();
    assert!(
        matches!(&err, RegistryError::UplinkIsABridge { bridge, other }
            if bridge.as_str() == "br1" && other.as_str() == "br0"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Bridge br1 and bridge br0: one would be the other's uplink device"
    );
    // The other way round: a new bridge named like an existing bridge's uplink.
    let mut c = bridge("br2");
    c.uplink = Some(ifname("eth0"));
    c.vlan = Some(VlanId::new(5).unwrap());
    reg.add_bridge(&c).unwrap();
    let err = reg.add_bridge(&bridge("eth0.5")).unwrap_err();
    assert!(
        matches!(&err, RegistryError::UplinkIsABridge { bridge, other }
            if bridge.as_str() == "eth0.5" && other.as_str() == "br2"),
        "{err:?}"
    );
    assert_eq!(reg.bridges().unwrap().len(), 2);
}

/// Part of the suite.
pub fn remove(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    reg.add_bridge(&br900()).unwrap();
    reg.add_bridge(&bridge("br0")).unwrap();
    let g = reg.generation().unwrap();
    assert_eq!(reg.remove_bridge(&ifname("br900")).unwrap(), br900());
    assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
    let g = grew(reg, g);
    let err = reg.remove_bridge(&ifname("br900")).unwrap_err();
    assert!(matches!(&err, RegistryError::UnknownBridge(n) if n.as_str() == "br900"));
    assert_eq!(err.to_string(), "Bridge br900 is not in the registry");
    same(reg, g);
}

/// Part of the suite.
pub fn a_bridge_in_use_is_not_removed(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    reg.add_bridge(&bridge("br0")).unwrap();
    reg.record(&attachment(9, 1, "br0")).unwrap();
    reg.record(&attachment(4, 2, "br0")).unwrap();
    let err = reg.remove_bridge(&ifname("br0")).unwrap_err();
    match &err {
        RegistryError::BridgeInUse {
            bridge,
            count,
            first,
        } => {
            assert_eq!(bridge.as_str(), "br0");
            assert_eq!(*count, 2);
            assert_eq!(*first, attachment(4, 2, "br0").owner());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "Bridge br0 still has 2 NIC attachment(s), the first of Xen domain \"dom4\" (id 4) \
         device 2"
    );
    assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
    reg.remove_attachment(Driver::Xen, 4, 2).unwrap();
    reg.remove_attachment(Driver::Xen, 9, 1).unwrap();
    reg.remove_bridge(&ifname("br0")).unwrap();
    assert_eq!(reg.bridges().unwrap(), []);
}

// ---- from registry/src/sqlite/claims.rs

fn dom(n: &str) -> DomainName {
    DomainName::new(n).unwrap()
}

fn xen(n: &str) -> (Driver, DomainName) {
    (Driver::Xen, dom(n))
}

/// Part of the suite.
pub fn claims_are_per_guest_and_only_on_registered_bridges(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    reg.add_bridge(&bridge("br0")).unwrap();
    reg.add_bridge(&bridge("br1")).unwrap();
    let g0 = reg.generation().unwrap();
    reg.claim_bridges(
        Driver::Xen,
        &dom("alice"),
        &[ifname("br0"), ifname("br1"), ifname("nope")],
    )
    .unwrap();
    reg.claim_bridges(Driver::Xen, &dom("bob"), &[ifname("br0")])
        .unwrap();
    assert_eq!(
        reg.bridge_claims(&ifname("br0")).unwrap(),
        [xen("alice"), xen("bob")]
    );
    assert_eq!(reg.bridge_claims(&ifname("br1")).unwrap(), [xen("alice")]);
    assert!(reg.bridge_claims(&ifname("nope")).unwrap().is_empty());
    // A new claim replaces the guest's old ones.
    reg.claim_bridges(Driver::Xen, &dom("alice"), &[ifname("br0")])
        .unwrap();
    assert!(reg.bridge_claims(&ifname("br1")).unwrap().is_empty());
    reg.release_claims(Driver::Xen, &dom("alice")).unwrap();
    assert_eq!(reg.bridge_claims(&ifname("br0")).unwrap(), [xen("bob")]);
    // Claims are no change a watcher hears of.
    same(reg, g0);
    // Unregistering a bridge drops its claims.
    reg.remove_bridge(&ifname("br0")).unwrap();
    assert!(reg.bridge_claims(&ifname("br0")).unwrap().is_empty());
}

/// Part of the suite.
pub fn a_qemu_guest_never_touches_the_claims_of_the_xen_guest_of_its_name(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    reg.add_bridge(&bridge("br0")).unwrap();
    reg.add_bridge(&bridge("br1")).unwrap();
    reg.claim_bridges(Driver::Xen, &dom("twin"), &[ifname("br0")])
        .unwrap();
    reg.claim_bridges(Driver::Qemu, &dom("twin"), &[ifname("br1")])
        .unwrap();
    assert_eq!(reg.bridge_claims(&ifname("br0")).unwrap(), [xen("twin")]);
    assert_eq!(
        reg.bridge_claims(&ifname("br1")).unwrap(),
        [(Driver::Qemu, dom("twin"))]
    );
    // Both on one bridge: two claims, QEMU's listed after Xen's.
    reg.claim_bridges(Driver::Qemu, &dom("twin"), &[ifname("br0")])
        .unwrap();
    assert_eq!(
        reg.bridge_claims(&ifname("br0")).unwrap(),
        [xen("twin"), (Driver::Qemu, dom("twin"))]
    );
    reg.release_claims(Driver::Qemu, &dom("twin")).unwrap();
    assert_eq!(reg.bridge_claims(&ifname("br0")).unwrap(), [xen("twin")]);
}

/// Part of the suite.
pub fn a_domains_records_release_its_claims(make: &Make) {
    let s = make();
    let reg = &*s.reg;
    reg.add_bridge(&bridge("br0")).unwrap();
    let nic = attachment(5, 0, "br0");
    reg.claim_bridges(Driver::Xen, &nic.domain_name, &[ifname("br0")])
        .unwrap();
    reg.claim_bridges(Driver::Xen, &dom("other"), &[ifname("br0")])
        .unwrap();
    // The QEMU guest of the same name keeps its claim.
    reg.claim_bridges(Driver::Qemu, &nic.domain_name, &[ifname("br0")])
        .unwrap();
    reg.replace_domain(Driver::Xen, 5, std::slice::from_ref(&nic))
        .unwrap();
    assert_eq!(
        reg.bridge_claims(&ifname("br0")).unwrap(),
        [xen("other"), (Driver::Qemu, nic.domain_name.clone())]
    );
}

// ---- from registry/src/sqlite/attachments.rs

/// A registry with bridges `br0` and `br1`.
fn with_bridges(make: &Make) -> Subject {
    let s = make();
    s.reg.add_bridge(&bridge("br0")).unwrap();
    s.reg.add_bridge(&bridge("br1")).unwrap();
    s
}

fn owner(domid: u32, devid: u32) -> Owner {
    attachment(domid, devid, "br0").owner()
}

/// Every optional field set, a custom backend name.
fn full() -> Attachment {
    let mut a = attachment(7, 1, "br1");
    a.domain_name = DomainName::new("Windows Server 2022").unwrap();
    a.domain_uuid = Some("4dea22b3-1d52-d8f3-2516-782e98ab3fa0".parse().unwrap());
    a.backend = ifname("win-eth1");
    a.emulated = Some(ifname("win-eth1-emu"));
    a.vlan = Some("10p/20-22/30u".parse::<VlanSpec>().unwrap());
    a.guest_name = Some(GuestName::new("Ethernet 2").unwrap());
    a.model = Some(NicModelName::new("e1000").unwrap());
    a.state = AttachmentState::Active;
    a
}

/// Part of the suite.
pub fn record_inserts_updates_and_leaves_alone(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    let a = attachment(5, 0, "br0");
    let g = reg.generation().unwrap();
    assert_eq!(reg.record(&a).unwrap(), Recorded::Inserted);
    let g = grew(reg, g);
    assert_eq!(reg.record(&a).unwrap(), Recorded::Unchanged);
    same(reg, g);
    let mut b = a.clone();
    b.state = AttachmentState::Active;
    b.bridge = ifname("br1");
    assert_eq!(reg.record(&b).unwrap(), Recorded::Updated);
    grew(reg, g);
    assert_eq!(reg.attachments().unwrap(), [b]);
}

/// QEMU guest `name` with id `domid`: its NIC `devid` on tap `vnet{domid}{devid}`.
fn qemu(name: &str, domid: u32, devid: u32, bridge: &str) -> Attachment {
    Attachment::qemu(
        DomainName::new(name).unwrap(),
        domid,
        devid,
        MacAddr::new([
            0x52,
            0x54,
            0,
            0,
            u8::try_from(domid).unwrap(),
            u8::try_from(devid).unwrap(),
        ])
        .unwrap(),
        ifname(bridge),
        ifname(&format!("vnet{domid}{devid}")),
    )
}

/// Part of the suite.
pub fn a_qemu_domain_never_touches_the_xen_domain_of_its_id_or_name(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    // Xen domain 5 is "twin"; QEMU's domain 5 is "other", QEMU's "twin" is 7.
    let xen = attachment(5, 0, "br0");
    let mut xen_twin = attachment(6, 0, "br0");
    xen_twin.domain_name = DomainName::new("twin").unwrap();
    reg.record(&xen).unwrap();
    reg.record(&xen_twin).unwrap();
    assert_eq!(
        reg.record(&qemu("other", 5, 0, "br1")).unwrap(),
        Recorded::Inserted
    );
    assert_eq!(
        reg.record(&qemu("twin", 7, 0, "br1")).unwrap(),
        Recorded::Inserted
    );
    assert_eq!(
        reg.attachment(Driver::Xen, 5, 0).unwrap(),
        Some(xen.clone())
    );
    assert_eq!(
        reg.attachment(Driver::Qemu, 5, 0).unwrap(),
        Some(qemu("other", 5, 0, "br1"))
    );
    // Listed Xen's first.
    let keys: Vec<_> = reg
        .attachments()
        .unwrap()
        .iter()
        .map(|a| (a.driver, a.domid))
        .collect();
    assert_eq!(
        keys,
        [
            (Driver::Xen, 5),
            (Driver::Xen, 6),
            (Driver::Qemu, 5),
            (Driver::Qemu, 7)
        ]
    );
    // QEMU's domain 5 re-synced with no NIC: Xen's domain 5 keeps its record.
    assert_eq!(reg.replace_domain(Driver::Qemu, 5, &[]).unwrap().len(), 1);
    assert_eq!(
        reg.attachment(Driver::Xen, 5, 0).unwrap(),
        Some(xen.clone())
    );
    // QEMU's "twin" stops: Xen's "twin" keeps its record.
    let twin = DomainKey::Name(DomainName::new("twin").unwrap());
    assert_eq!(reg.remove_domain(Driver::Qemu, &twin).unwrap().len(), 1);
    assert_eq!(
        reg.domain_attachments(Driver::Xen, &twin).unwrap(),
        [xen_twin.clone()]
    );
    assert_eq!(reg.remove_attachment(Driver::Qemu, 6, 0).unwrap(), None);
    let err = reg
        .set_state(Driver::Qemu, 6, 0, AttachmentState::Active)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "No NIC attachment for QEMU domain 6 device 0 in the registry"
    );
    assert_eq!(reg.attachments().unwrap(), [xen, xen_twin]);
    // A replacement names its driver: a Xen NIC in QEMU's domain 5 is refused.
    let err = reg
        .replace_domain(Driver::Qemu, 5, &[attachment(5, 1, "br0")])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Replacing QEMU domain 5's NIC attachments: Xen domain \"dom5\" (id 5) device 1 \
         belongs to another domain"
    );
}

/// Part of the suite.
pub fn a_mac_and_a_device_name_are_the_hosts_whatever_the_driver(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    reg.record(&attachment(5, 0, "br0")).unwrap();
    let mut q = qemu("q", 5, 0, "br0");
    q.mac = mac_of(5, 0);
    let err = reg.record(&q).unwrap_err();
    assert_eq!(
        err.to_string(),
        "MAC 02:00:05:00:00:00 is already used by Xen domain \"dom5\" (id 5) device 0"
    );
    let mut q = qemu("q", 5, 0, "br0");
    q.backend = ifname("vif5.0-emu");
    let err = reg.record(&q).unwrap_err();
    assert!(
        matches!(&err, RegistryError::NameClash { owner, .. } if owner.driver == Driver::Xen),
        "{err:?}"
    );
}

/// Part of the suite.
pub fn recording_a_domain_again_never_duplicates(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    for round in 0..3 {
        for devid in 0..4 {
            let mut a = attachment(9, devid, "br0");
            a.guest_name = Some(GuestName::linux_default(devid + round));
            reg.record(&a).unwrap();
        }
    }
    let all = reg.attachments().unwrap();
    let want: Vec<Attachment> = (0..4)
        .map(|devid| {
            let mut a = attachment(9, devid, "br0");
            a.guest_name = Some(GuestName::linux_default(devid + 2));
            a
        })
        .collect();
    assert_eq!(all, want);
}

/// Part of the suite.
pub fn every_field_round_trips(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    let a = full();
    reg.record(&a).unwrap();
    assert_eq!(reg.attachment(Driver::Xen, 7, 1).unwrap(), Some(a.clone()));
    assert_eq!(
        reg.attachment_by_device(&ifname("win-eth1")).unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        reg.attachment_by_device(&ifname("win-eth1-emu")).unwrap(),
        Some(a.clone())
    );
    assert_eq!(reg.attachment_by_mac(a.mac).unwrap(), Some(a.clone()));
    // A second connection reads the same.
    let other = (s.again)();
    assert_eq!(other.attachments().unwrap(), std::slice::from_ref(&a));
    // A changed model alone is a change.
    let mut b = a.clone();
    b.model = Some(NicModelName::new("rtl8139").unwrap());
    assert_eq!(reg.record(&b).unwrap(), Recorded::Updated);
    assert_eq!(reg.attachment(Driver::Xen, 7, 1).unwrap(), Some(b.clone()));
    b.model = None;
    assert_eq!(reg.record(&b).unwrap(), Recorded::Updated);
    assert_eq!(reg.attachment(Driver::Xen, 7, 1).unwrap(), Some(b));
}

/// Part of the suite.
pub fn lookups(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    for (domid, devid) in [(6, 1), (5, 1), (6, 0), (5, 0)] {
        reg.record(&attachment(domid, devid, "br0")).unwrap();
    }
    let mut pv = attachment(8, 0, "br1");
    pv.emulated = None;
    reg.record(&pv).unwrap();
    let keys = |v: Vec<Attachment>| v.iter().map(|a| (a.domid, a.devid)).collect::<Vec<_>>();
    assert_eq!(
        keys(reg.attachments().unwrap()),
        [(5, 0), (5, 1), (6, 0), (6, 1), (8, 0)]
    );
    assert_eq!(
        reg.attachment(Driver::Xen, 6, 1).unwrap(),
        Some(attachment(6, 1, "br0"))
    );
    assert_eq!(reg.attachment(Driver::Xen, 6, 2).unwrap(), None);
    assert_eq!(
        reg.attachment_by_device(&ifname("vif5.1")).unwrap(),
        Some(attachment(5, 1, "br0"))
    );
    assert_eq!(
        reg.attachment_by_device(&ifname("vif5.1-emu")).unwrap(),
        Some(attachment(5, 1, "br0"))
    );
    assert_eq!(
        reg.attachment_by_device(&ifname("vif8.0")).unwrap(),
        Some(pv)
    );
    assert_eq!(
        reg.attachment_by_device(&ifname("vif8.0-emu")).unwrap(),
        None
    );
    assert_eq!(reg.attachment_by_device(&ifname("br0")).unwrap(), None);
    assert_eq!(
        reg.attachment_by_mac(mac_of(6, 0)).unwrap(),
        Some(attachment(6, 0, "br0"))
    );
    assert_eq!(reg.attachment_by_mac(mac_of(6, 9)).unwrap(), None);
    assert_eq!(
        keys(
            reg.domain_attachments(Driver::Xen, &DomainKey::Id(6))
                .unwrap()
        ),
        [(6, 0), (6, 1)]
    );
    let name = DomainKey::Name(DomainName::new("dom5").unwrap());
    assert_eq!(
        keys(reg.domain_attachments(Driver::Xen, &name).unwrap()),
        [(5, 0), (5, 1)]
    );
    assert_eq!(
        reg.domain_attachments(Driver::Xen, &DomainKey::Id(99))
            .unwrap(),
        []
    );
}

/// Part of the suite.
pub fn mac_clash_is_a_clear_error(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    reg.record(&attachment(5, 0, "br0")).unwrap();
    let g = reg.generation().unwrap();
    let mut b = attachment(6, 3, "br1");
    b.mac = mac_of(5, 0);
    let err = reg.record(&b).unwrap_err();
    match &err {
        RegistryError::MacClash { mac, owner: o } => {
            assert_eq!(*mac, mac_of(5, 0));
            assert_eq!(*o, owner(5, 0));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "MAC 02:00:05:00:00:00 is already used by Xen domain \"dom5\" (id 5) device 0"
    );
    assert_eq!(reg.attachments().unwrap(), [attachment(5, 0, "br0")]);
    same(reg, g);
}

/// Part of the suite.
pub fn a_mac_moves_when_its_nic_is_rerecorded(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    reg.record(&attachment(5, 0, "br0")).unwrap();
    let mut a = attachment(5, 0, "br0");
    a.mac = mac_of(5, 7);
    assert_eq!(reg.record(&a).unwrap(), Recorded::Updated);
    // The old MAC is free again.
    let mut b = attachment(6, 0, "br0");
    b.mac = mac_of(5, 0);
    assert_eq!(reg.record(&b).unwrap(), Recorded::Inserted);
    assert_eq!(reg.attachment_by_mac(mac_of(5, 0)).unwrap(), Some(b));
    assert_eq!(reg.attachment_by_mac(mac_of(5, 7)).unwrap(), Some(a));
}

/// Part of the suite.
pub fn device_name_clash_is_a_clear_error(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    reg.record(&attachment(5, 0, "br0")).unwrap();
    // A custom vifname= that is another NIC's emulated twin.
    let mut b = attachment(6, 0, "br0");
    b.backend = ifname("vif5.0-emu");
    b.emulated = None;
    let err = reg.record(&b).unwrap_err();
    assert!(
        matches!(&err, RegistryError::NameClash { name, owner: o }
            if name.as_str() == "vif5.0-emu" && *o == owner(5, 0)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Device name vif5.0-emu is already used by Xen domain \"dom5\" (id 5) device 0"
    );
    // And a custom one taken twice, emulated twin included.
    let mut c = attachment(6, 1, "br0");
    c.backend = ifname("web");
    c.emulated = Some(ifname("web-emu"));
    reg.record(&c).unwrap();
    let mut d = attachment(7, 0, "br0");
    d.backend = ifname("web");
    d.emulated = None;
    assert!(matches!(
        reg.record(&d).unwrap_err(),
        RegistryError::NameClash { name, .. } if name.as_str() == "web"
    ));
    assert_eq!(reg.attachments().unwrap().len(), 2);
}

/// Part of the suite.
pub fn an_unknown_bridge_is_refused(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    let err = reg.record(&attachment(5, 0, "xenbr0")).unwrap_err();
    assert!(matches!(&err, RegistryError::UnknownBridge(b) if b.as_str() == "xenbr0"));
    assert_eq!(err.to_string(), "Bridge xenbr0 is not in the registry");
    assert_eq!(reg.attachments().unwrap(), []);
}

/// Part of the suite.
pub fn an_invalid_attachment_is_refused_before_any_write(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    let mut a = attachment(5, 0, "br0");
    a.backend = ifname("vif6.0");
    let err = reg.record(&a).unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::Invalid(ModelError::BackendOfOther {
                named_domid: 6,
                named_devid: 0,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "Domain 5 device 0: backend vif6.0 is Xen's name for domain 6 device 0"
    );
    assert!(err.source().is_none());
    assert_eq!(reg.attachments().unwrap(), []);
}

/// Part of the suite.
pub fn set_state(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    reg.record(&attachment(5, 0, "br0")).unwrap();
    let g = reg.generation().unwrap();
    reg.set_state(Driver::Xen, 5, 0, AttachmentState::Active)
        .unwrap();
    assert_eq!(
        reg.attachment(Driver::Xen, 5, 0).unwrap().unwrap().state,
        AttachmentState::Active
    );
    let g = grew(reg, g);
    reg.set_state(Driver::Xen, 5, 0, AttachmentState::Active)
        .unwrap();
    same(reg, g);
    let err = reg
        .set_state(Driver::Xen, 5, 1, AttachmentState::Stopped)
        .unwrap_err();
    assert!(matches!(
        err,
        RegistryError::UnknownAttachment {
            driver: Driver::Xen,
            domid: 5,
            devid: 1
        }
    ));
    assert_eq!(
        err.to_string(),
        "No NIC attachment for Xen domain 5 device 1 in the registry"
    );
}

/// Part of the suite.
pub fn remove_attachment(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    reg.record(&attachment(5, 0, "br0")).unwrap();
    reg.record(&attachment(5, 1, "br0")).unwrap();
    let g = reg.generation().unwrap();
    assert_eq!(
        reg.remove_attachment(Driver::Xen, 5, 0).unwrap(),
        Some(attachment(5, 0, "br0"))
    );
    assert_eq!(reg.remove_attachment(Driver::Xen, 5, 0).unwrap(), None);
    grew(reg, g);
    assert_eq!(reg.attachments().unwrap(), [attachment(5, 1, "br0")]);
}

/// Part of the suite.
pub fn remove_if_unchanged_keeps_a_record_rewritten_meanwhile(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    let mut old = attachment(5, 0, "br0");
    old.boot_id = Some("6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60".parse().unwrap());
    reg.record(&old).unwrap();
    assert_eq!(
        reg.attachment(Driver::Xen, 5, 0).unwrap(),
        Some(old.clone())
    );
    // Its guest recorded it again, in this boot: a reader's stale copy is not it.
    let now = attachment(5, 0, "br0");
    reg.record(&now).unwrap();
    let g = reg.generation().unwrap();
    assert!(!reg.remove_if_unchanged(&old).unwrap());
    same(reg, g);
    assert!(reg.remove_if_unchanged(&now).unwrap());
    assert_eq!(reg.attachments().unwrap(), []);
    grew(reg, g);
    assert!(!reg.remove_if_unchanged(&now).unwrap());
}

/// Part of the suite.
pub fn remove_domain_by_id_name_and_uuid(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    let uuid: DomainUuid = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0".parse().unwrap();
    for domid in [5, 6, 7] {
        for devid in [0, 1] {
            let mut a = attachment(domid, devid, "br0");
            if domid == 7 {
                a.domain_uuid = Some(uuid);
            }
            reg.record(&a).unwrap();
        }
    }
    let removed = reg.remove_domain(Driver::Xen, &DomainKey::Id(5)).unwrap();
    assert_eq!(removed, [attachment(5, 0, "br0"), attachment(5, 1, "br0")]);
    let name = DomainKey::Name(DomainName::new("dom6").unwrap());
    assert_eq!(reg.remove_domain(Driver::Xen, &name).unwrap().len(), 2);
    assert_eq!(
        reg.domain_attachments(Driver::Xen, &DomainKey::Uuid(uuid))
            .unwrap()
            .len(),
        2
    );
    let removed = reg
        .remove_domain(Driver::Xen, &DomainKey::Uuid(uuid))
        .unwrap();
    assert_eq!(
        removed
            .iter()
            .map(|a| (a.domid, a.devid))
            .collect::<Vec<_>>(),
        [(7, 0), (7, 1)]
    );
    let g = reg.generation().unwrap();
    assert_eq!(
        reg.remove_domain(Driver::Xen, &DomainKey::Id(5)).unwrap(),
        []
    );
    same(reg, g);
    assert_eq!(reg.attachments().unwrap(), []);
}

/// Part of the suite.
pub fn replace_domain_resyncs_in_one_step(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    for devid in 0..3 {
        reg.record(&attachment(5, devid, "br0")).unwrap();
    }
    reg.record(&attachment(6, 0, "br0")).unwrap();
    // Devices 0 and 1 swap MACs, device 2 is gone, device 3 is new.
    let mut d0 = attachment(5, 0, "br0");
    d0.mac = mac_of(5, 1);
    let mut d1 = attachment(5, 1, "br1");
    d1.mac = mac_of(5, 0);
    let d3 = attachment(5, 3, "br0");
    let g = reg.generation().unwrap();
    let stale = reg
        .replace_domain(Driver::Xen, 5, &[d3.clone(), d1.clone(), d0.clone()])
        .unwrap();
    assert_eq!(stale, [attachment(5, 2, "br0")]);
    let g = grew(reg, g);
    assert_eq!(
        reg.attachments().unwrap(),
        [d0.clone(), d1.clone(), d3.clone(), attachment(6, 0, "br0")]
    );
    // The same set again changes nothing.
    assert_eq!(
        reg.replace_domain(Driver::Xen, 5, &[d0, d1, d3]).unwrap(),
        []
    );
    same(reg, g);
    // An empty set drops the domain.
    assert_eq!(reg.replace_domain(Driver::Xen, 5, &[]).unwrap().len(), 3);
    assert_eq!(reg.attachments().unwrap(), [attachment(6, 0, "br0")]);
}

/// Part of the suite.
pub fn replace_domain_errors_change_nothing(make: &Make) {
    let s = with_bridges(make);
    let reg = &*s.reg;
    reg.record(&attachment(5, 0, "br0")).unwrap();
    reg.record(&attachment(6, 0, "br0")).unwrap();
    let before = reg.attachments().unwrap();
    let g = reg.generation().unwrap();

    let err = reg
        .replace_domain(
            Driver::Xen,
            5,
            &[attachment(5, 1, "br0"), attachment(6, 1, "br0")],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Replacing Xen domain 5's NIC attachments: Xen domain \"dom6\" (id 6) device 1 belongs \
         to another domain"
    );
    let err = reg
        .replace_domain(
            Driver::Xen,
            5,
            &[attachment(5, 1, "br0"), attachment(5, 1, "br1")],
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Replacing Xen domain 5's NIC attachments: device 1 is given twice"
    );
    // A clash with another domain, found after the domain's rows were deleted inside
    // the transaction: rolled back.
    let mut clash = attachment(5, 1, "br0");
    clash.mac = mac_of(6, 0);
    let err = reg
        .replace_domain(Driver::Xen, 5, &[attachment(5, 2, "br0"), clash])
        .unwrap_err();
    assert!(matches!(err, RegistryError::MacClash { .. }), "{err:?}");
    let err = reg
        .replace_domain(Driver::Xen, 5, &[attachment(5, 2, "nobridge")])
        .unwrap_err();
    assert!(matches!(err, RegistryError::UnknownBridge(_)), "{err:?}");
    assert_eq!(reg.attachments().unwrap(), before);
    same(reg, g);
}
