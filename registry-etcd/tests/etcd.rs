//! The etcd registry against real etcd clusters on loopback ports: the suite every
//! backend runs, then the fleet's rules with three members and two or three hosts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use registry::suite::{Subject, ALL};
use registry::testutil::{attachment, bridge};
use registry::{ChangeFeed, DomainKey, Driver, Notice, Registry, RegistryError};
use registry_etcd::testcluster::Cluster;
use registry_etcd::{EtcdConfig, EtcdRegistry};
use translator::MacAddr;

static PREFIX: AtomicUsize = AtomicUsize::new(0);

/// Host `host`'s registry on `cluster`, under a prefix of its own test (`prefix`).
fn config(cluster: &Cluster, prefix: &str, host: &str) -> EtcdConfig {
    let mut cfg = EtcdConfig::from_url(&cluster.url(), host).unwrap();
    cfg.prefix = prefix.to_owned();
    cfg.timeout = Duration::from_secs(8);
    cfg.lease_ttl = Duration::from_secs(60);
    cfg
}

fn fresh_prefix() -> String {
    format!("/t{}/vifkit/v1/", PREFIX.fetch_add(1, Ordering::Relaxed))
}

fn host(cluster: &Cluster, prefix: &str, host: &str) -> EtcdRegistry {
    let reg = EtcdRegistry::new(config(cluster, prefix, host)).unwrap();
    reg.ensure_lease().unwrap();
    reg
}

#[test]
fn the_registry_suite_on_etcd() {
    let cluster = Arc::new(Cluster::start(1));
    let make = {
        let cluster = cluster.clone();
        move || {
            let prefix = fresh_prefix();
            let cfg = config(&cluster, &prefix, "h1");
            let reg = EtcdRegistry::new(cfg.clone()).unwrap();
            reg.ensure_lease().unwrap();
            Subject {
                reg: Box::new(reg),
                again: Box::new(move || Box::new(EtcdRegistry::new(cfg.clone()).unwrap())),
                guard: Box::new(()),
            }
        }
    };
    let mut failed = Vec::new();
    for (name, case) in ALL {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&make)));
        if r.is_err() {
            failed.push(*name);
        }
    }
    assert!(failed.is_empty(), "failed on etcd: {failed:?}");
}

fn mac(round: u32) -> MacAddr {
    let [_, _, a, b] = round.to_be_bytes();
    MacAddr::new([0x02, 0xaa, 0, 0, a, b]).unwrap()
}

#[test]
fn fleet_rules_on_three_members() {
    let mut cluster = Cluster::start(3);
    let prefix = fresh_prefix();
    let h1 = host(&cluster, &prefix, "h1");
    let h2 = host(&cluster, &prefix, "h2");
    h1.add_bridge(&bridge("br0")).unwrap();
    // The shared definition is every host's.
    assert_eq!(h2.bridges().unwrap(), [bridge("br0")]);

    // The same MAC from two hosts at once, 100 rounds: exactly one wins each time.
    let barrier = Arc::new(Barrier::new(2));
    let run = |reg: &EtcdRegistry, domid: u32| {
        let barrier = barrier.clone();
        let mut won = Vec::new();
        for round in 0..100 {
            let mut a = attachment(domid, round, "br0");
            a.mac = mac(round);
            barrier.wait();
            match reg.record(&a) {
                Ok(_) => won.push(round),
                Err(RegistryError::MacClashOnHost { .. }) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        won
    };
    let wins = std::thread::scope(|s| {
        let (run, h1, h2) = (&run, &h1, &h2);
        let a = s.spawn(move || run(h1, 10));
        let b = s.spawn(move || run(h2, 20));
        (a.join().unwrap(), b.join().unwrap())
    });
    for round in 0..100 {
        let one = wins.0.contains(&round);
        let two = wins.1.contains(&round);
        assert!(one ^ two, "round {round}: h1 won {one}, h2 won {two}");
        let owner = h1.mac_owner(mac(round)).unwrap().unwrap();
        assert_eq!(owner.host, if one { "h1" } else { "h2" });
    }
    assert_eq!(
        h1.attachments().unwrap().len() + h2.attachments().unwrap().len(),
        100
    );

    // A migrated guest keeps its MAC; its records end on the destination, and the
    // source's stop does not drop what the destination owns now.
    let uuid: registry::DomainUuid = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0".parse().unwrap();
    let mut src = attachment(7, 0, "br0");
    src.mac = mac(5000);
    src.domain_uuid = Some(uuid);
    h1.replace_domain(Driver::Xen, 7, std::slice::from_ref(&src))
        .unwrap();
    let mut dst = attachment(3, 0, "br0");
    dst.mac = mac(5000);
    dst.domain_uuid = Some(uuid);
    dst.domain_name = src.domain_name.clone();
    h2.replace_domain(Driver::Xen, 3, std::slice::from_ref(&dst))
        .unwrap();
    assert_eq!(h1.mac_owner(mac(5000)).unwrap().unwrap().host, "h2");
    h1.remove_domain(Driver::Xen, &DomainKey::Uuid(uuid))
        .unwrap();
    assert_eq!(h1.mac_owner(mac(5000)).unwrap().unwrap().host, "h2");
    assert_eq!(h2.attachment_by_mac(mac(5000)).unwrap(), Some(dst.clone()));
    assert_eq!(
        h1.domain_attachments(Driver::Xen, &DomainKey::Uuid(uuid))
            .unwrap(),
        []
    );
    // Another guest (another UUID) cannot take it.
    let mut thief = attachment(8, 0, "br0");
    thief.mac = mac(5000);
    thief.domain_uuid = Some("5dea22b3-1d52-d8f3-2516-782e98ab3fa0".parse().unwrap());
    let err = h1.record(&thief).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "MAC {} is already used by Xen domain \"dom7\" (id 3) device 0 on host h2",
            mac(5000)
        )
    );

    // One member killed: everything keeps working.
    cluster.kill_member(0);
    let mut a = attachment(40, 0, "br0");
    a.mac = mac(6000);
    h1.record(&a).unwrap();
    assert_eq!(h2.mac_owner(mac(6000)).unwrap().unwrap().host, "h1");

    // Two killed: fail closed within the timeout, with a clear error, nothing written.
    cluster.kill_member(1);
    let before = Instant::now();
    let mut b = attachment(41, 0, "br0");
    b.mac = mac(6001);
    let err = h1.record(&b).unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");
    assert!(
        before.elapsed() < Duration::from_secs(10),
        "{:?}",
        before.elapsed()
    );
    assert!(
        err.to_string().starts_with(&format!(
            "Registry {}: no answer within 8000 ms while recording a NIC",
            cluster.url()
        )),
        "{err}"
    );
    let err = h1.remove_attachment(Driver::Xen, 40, 0).unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");

    // Members back: work resumes; the refused record is not there, the earlier one is.
    cluster.start_member(0);
    cluster.start_member(1);
    cluster.wait_healthy(Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(20);
    let seen = loop {
        match h1.attachment(Driver::Xen, 40, 0) {
            Ok(a) => break a,
            Err(e) if Instant::now() < deadline => {
                assert!(e.is_unreachable(), "{e:?}");
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(seen, Some(a));
    // The refused request was never applied, or was applied whole.
    match h1.attachment(Driver::Xen, 41, 0).unwrap() {
        None => assert_eq!(h1.mac_owner(mac(6001)).unwrap(), None),
        Some(r) => assert_eq!(h1.mac_owner(r.mac).unwrap().unwrap().host, "h1"),
    }
    h1.record(&b).unwrap();
    assert_eq!(h2.mac_owner(mac(6001)).unwrap().unwrap().host, "h1");
}

#[test]
fn a_dead_hosts_claims_expire_with_its_lease() {
    let cluster = Cluster::start(1);
    let prefix = fresh_prefix();
    let h1 = host(&cluster, &prefix, "h1");
    h1.add_bridge(&bridge("br0")).unwrap();
    let mut cfg = config(&cluster, &prefix, "h3");
    cfg.lease_ttl = Duration::from_secs(2);
    let h3 = EtcdRegistry::new(cfg).unwrap();
    h3.ensure_lease().unwrap();
    let mut a = attachment(5, 0, "br0");
    a.mac = mac(7000);
    h3.record(&a).unwrap();
    h3.claim_bridges(Driver::Xen, &a.domain_name, &[a.bridge.clone()])
        .unwrap();
    assert_eq!(h1.mac_owner(a.mac).unwrap().unwrap().host, "h3");
    // h3 dies: nobody keeps its lease alive.
    drop(h3);
    let deadline = Instant::now() + Duration::from_secs(15);
    while h1.mac_owner(a.mac).unwrap().is_some() {
        assert!(Instant::now() < deadline, "h3's MAC is still claimed");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Its MAC is free for another host, and its bridge may be removed.
    let mut b = attachment(6, 0, "br0");
    b.mac = mac(7000);
    h1.record(&b).unwrap();
    h1.remove_attachment(Driver::Xen, 6, 0).unwrap();
    h1.remove_bridge(&a.bridge).unwrap();
}

#[test]
fn a_host_without_a_lease_cannot_record() {
    let cluster = Cluster::start(1);
    let prefix = fresh_prefix();
    let h1 = host(&cluster, &prefix, "h1");
    h1.add_bridge(&bridge("br0")).unwrap();
    let h4 = EtcdRegistry::new(config(&cluster, &prefix, "h4")).unwrap();
    let err = h4.record(&attachment(5, 0, "br0")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Registry {}: host h4 has no live lease, so nothing it records would be kept: \
             start `vifkit fleet keepalive` on it (the vifkit-fleet unit)",
            cluster.url()
        )
    );
    assert_eq!(h4.attachments().unwrap(), []);
}

/// The notices of `feed` up to the first that `want` accepts, failing after 30 s.
fn notices_until(
    feed: &mut dyn ChangeFeed,
    what: &str,
    want: impl Fn(&Notice) -> bool,
) -> Vec<Notice> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "waiting for {what}: saw {seen:?}");
        let n = feed.wait(left.min(Duration::from_millis(500)));
        if n == Notice::Quiet {
            continue;
        }
        let done = want(&n);
        seen.push(n);
        if done {
            return seen;
        }
    }
}

#[test]
fn the_watch_sees_other_hosts_and_comes_back_after_its_member_died() {
    let mut cluster = Cluster::start(1);
    let prefix = fresh_prefix();
    let h1 = host(&cluster, &prefix, "h1");
    let h2 = host(&cluster, &prefix, "h2");
    let mut feed = h1.watch_changes().unwrap();
    // Set up: a change (read whole), before anything was written.
    notices_until(&mut feed, "the watch set up", |n| *n == Notice::Changed);
    // Another host's write.
    h2.add_bridge(&bridge("br7")).unwrap();
    notices_until(&mut feed, "h2's bridge", |n| *n == Notice::Changed);
    // Its only member killed: lost, saying where; back once the member is.
    cluster.kill_member(0);
    let lost = notices_until(&mut feed, "the watch lost", |n| {
        matches!(n, Notice::Lost(_))
    });
    let Some(Notice::Lost(why)) = lost.last() else {
        unreachable!()
    };
    assert!(
        why.starts_with(&format!("the etcd watch of {}: ", cluster.url())),
        "{why}"
    );
    cluster.start_member(0);
    cluster.wait_healthy(Duration::from_secs(30));
    notices_until(&mut feed, "the watch back", |n| *n == Notice::Changed);
    h2.add_bridge(&bridge("br8")).unwrap();
    notices_until(&mut feed, "h2's second bridge", |n| *n == Notice::Changed);
}
