//! The interfaces over a peer-to-peer zbus connection (a Unix socket pair, no bus):
//! every method, its errors, and the signals for writes by another registry connection
//! (as a hook in another process makes them).

use std::os::unix::net::UnixStream;
use std::time::Duration;

use futures::StreamExt;
use zbus::connection::Builder;
use zbus::message::Type;
use zbus::{Connection, DBusError, Guid, MessageStream, OwnedVariant};

use super::*;
use registry::{Attachment, DomainName, Registry, SqliteRegistry};
use translator::IfName;

struct Peer {
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    client: Connection,
    _server: Connection,
    service: Option<Service>,
}

async fn peer(busy: Duration) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let (a, b) = UnixStream::pair().unwrap();
    let guid = Guid::generate();
    let (server, client) = futures::future::join(
        Builder::unix_stream(a).server(guid).p2p().build(),
        Builder::unix_stream(b).p2p().build(),
    )
    .await;
    let server = server.unwrap();
    let cfg = Config {
        registry: Backend::Sqlite(&db),
        busy_timeout: busy,
        system_bus: false,
    };
    let service = Service::start(&server, &cfg).await.unwrap();
    Peer {
        _dir: dir,
        db,
        client: client.unwrap(),
        _server: server,
        service: Some(service),
    }
}

impl Peer {
    async fn call<B, R>(&self, iface: &str, method: &str, body: &B) -> Result<R, (String, String)>
    where
        B: serde::Serialize + zbus::DynamicType,
        R: for<'d> serde::Deserialize<'d> + zbus::Type,
    {
        match self
            .client
            .call_method(None::<&str>, OBJECT_PATH, Some(iface), method, body)
            .await
        {
            Ok(m) => Ok(m.body().deserialize::<R>().unwrap()),
            Err(zbus::Error::MethodError(name, desc, _)) => {
                Err((name.to_string(), desc.unwrap_or_default()))
            }
            Err(zbus::Error::FDO(e)) => Err((
                e.name().to_string(),
                e.description().unwrap_or_default().to_owned(),
            )),
            Err(e) => panic!("{method}: {e}"),
        }
    }
}

fn reg(p: &Peer) -> SqliteRegistry {
    SqliteRegistry::open(&p.db).unwrap()
}

fn nic(domid: u32, mac: &str, emulated: bool) -> Attachment {
    Attachment::xen(
        DomainName::new("guest").unwrap(),
        domid,
        0,
        mac.parse().unwrap(),
        IfName::new("br0").unwrap(),
        emulated,
    )
    .unwrap()
}

fn s(d: &Dict, key: &str) -> String {
    String::try_from(d[key].try_clone().unwrap()).unwrap()
}

/// The next signal on `stream`, as (member, message), with a deadline.
/// The next signal of an `org.vifkit.*` interface.
async fn next_signal(stream: &mut MessageStream) -> (String, zbus::Message) {
    let deadline = Duration::from_secs(20);
    tokio::time::timeout(deadline, async {
        loop {
            let m = stream.next().await.unwrap().unwrap();
            // org.vifkit's own signals: the object model's (ObjectManager, Properties)
            // come beside them, tested on their own.
            let ours = m
                .header()
                .interface()
                .is_some_and(|i| i.as_str().starts_with("org.vifkit."));
            if m.message_type() == Type::Signal && ours {
                let member = m.header().member().unwrap().to_string();
                return (member, m);
            }
        }
    })
    .await
    .expect("a signal within the deadline")
}

#[tokio::test]
async fn nic_models_and_bad_guest_type() {
    let p = peer(Duration::from_secs(1)).await;
    let pv: Vec<(String, String, bool)> = p
        .call("org.vifkit.NicModels1", "List", &("pv",))
        .await
        .unwrap();
    assert_eq!(pv.len(), 1);
    assert_eq!(pv[0].0, "netfront");
    let (name, msg) = p
        .call::<_, Vec<(String, String, bool)>>("org.vifkit.NicModels1", "List", &("kvm",))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    assert_eq!(msg, "Unknown guest type `kvm` (expected hvm, pv or pvh)");
}

#[tokio::test]
#[ignore = "needs root: without polkit, only a root peer may Register"]
async fn bridges_register_list_unregister_with_signals() {
    need_root();
    let p = peer(Duration::from_secs(1)).await;
    let mut stream = MessageStream::from(&p.client);
    let opts: Dict = [
        ("mtu".to_owned(), OwnedVariant::from(9000u32)),
        ("stp".to_owned(), OwnedVariant::from(true)),
    ]
    .into_iter()
    .collect();
    p.call::<_, ()>("org.vifkit.Bridges1", "Register", &("vkbr0", &opts))
        .await
        .unwrap();
    let (member, m) = next_signal(&mut stream).await;
    assert_eq!(member, "BridgeAdded");
    assert_eq!(m.body().deserialize::<String>().unwrap(), "vkbr0");
    let list: Vec<(String, Dict)> = p.call("org.vifkit.Bridges1", "List", &()).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].0, "vkbr0");
    let props = &list[0].1;
    assert_eq!(
        u32::try_from(props["mtu"].try_clone().unwrap()).unwrap(),
        9000
    );
    assert!(bool::try_from(props["stp"].try_clone().unwrap()).unwrap());
    assert!(!bool::try_from(props["present"].try_clone().unwrap()).unwrap());
    assert_eq!(s(props, "kind"), "linux");
    // Registering the same again changes nothing; another MTU changes the entry.
    p.call::<_, ()>("org.vifkit.Bridges1", "Register", &("vkbr0", &opts))
        .await
        .unwrap();
    let opts2: Dict = [("mtu".to_owned(), OwnedVariant::from(1500u32))]
        .into_iter()
        .collect();
    p.call::<_, ()>("org.vifkit.Bridges1", "Register", &("vkbr0", &opts2))
        .await
        .unwrap();
    let (member, _) = next_signal(&mut stream).await;
    assert_eq!(member, "BridgeChanged");
    // Bad arguments.
    let (name, msg) = p
        .call::<_, ()>("org.vifkit.Bridges1", "Register", &("a/b", &Dict::new()))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InvalidArgs", "{msg}");
    let bad: Dict = [("mtu".to_owned(), OwnedVariant::from(true))]
        .into_iter()
        .collect();
    let (name, msg) = p
        .call::<_, ()>("org.vifkit.Bridges1", "Register", &("vkbr1", &bad))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    assert_eq!(msg, "Option `mtu` must be an integer (q or u), not b");
    let (name, _) = p
        .call::<_, ()>("org.vifkit.Bridges1", "Unregister", &("nosuch",))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.NotFound");
    // In use while a NIC is attached.
    reg(&p).record(&nic(1, "00:16:3e:00:00:01", false)).ok();
    let r = reg(&p);
    r.add_bridge(&registry::Bridge::new(
        IfName::new("br0").unwrap(),
        registry::BridgeKind::Linux,
    ))
    .unwrap();
    r.record(&nic(1, "00:16:3e:00:00:01", false)).unwrap();
    let (name, _) = p
        .call::<_, ()>("org.vifkit.Bridges1", "Unregister", &("br0",))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InUse");
    p.call::<_, ()>("org.vifkit.Bridges1", "Unregister", &("vkbr0",))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while !seen.contains(&"BridgeRemoved".to_owned()) {
        seen.push(next_signal(&mut stream).await.0);
    }
    // Ensure of a bridge that is not registered.
    let (name, _) = p
        .call::<_, ()>("org.vifkit.Bridges1", "Ensure", &("vkbr0",))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.NotFound");
}

/// Fails the test unless it runs as root: the peer of the service is this process, and
/// without polkit the service lets only root change the registry.
fn need_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "needs root (euid {euid}): without polkit, only a root peer may Register; tests \
         needing it are #[ignore]d for that: run them as root, as tests/run.sh does"
    );
}

#[tokio::test]
async fn pairings_from_another_writer_arrive_as_signals() {
    let p = peer(Duration::from_secs(1)).await;
    let mut stream = MessageStream::from(&p.client);
    let hook = reg(&p);
    hook.add_bridge(&registry::Bridge::new(
        IfName::new("br0").unwrap(),
        registry::BridgeKind::Linux,
    ))
    .unwrap();
    let mut with_model = nic(5, "00:16:3e:00:00:05", true);
    with_model.model = Some(registry::NicModelName::new("e1000").unwrap());
    hook.record(&with_model).unwrap();
    let mut added = None;
    while added.is_none() {
        let (member, m) = next_signal(&mut stream).await;
        if member == "PairingAdded" {
            added = Some(m.body().deserialize::<Dict>().unwrap());
        }
    }
    let added = added.unwrap();
    assert_eq!(s(&added, "backend"), "vif5.0");
    assert_eq!(s(&added, "emulated"), "vif5.0-emu");
    assert_eq!(s(&added, "model"), "e1000");
    assert_eq!(s(&added, "mac"), "00:16:3e:00:00:05");
    assert_eq!(
        u32::try_from(added["domid"].try_clone().unwrap()).unwrap(),
        5
    );

    let list: Vec<Dict> = p.call("org.vifkit.Pairings1", "List", &()).await.unwrap();
    assert_eq!(list.len(), 1);
    let one: Dict = p
        .call("org.vifkit.Pairings1", "Lookup", &("xen", 5u32, 0u32))
        .await
        .unwrap();
    assert_eq!(s(&one, "domain"), "guest");
    assert_eq!(s(&one, "driver"), "xen");
    assert_eq!(s(&one, "model"), "e1000");
    // Domain 5 of QEMU is another domain.
    let (name, msg) = p
        .call::<_, Dict>("org.vifkit.Pairings1", "Lookup", &("qemu", 5u32, 0u32))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.NotFound");
    assert_eq!(msg, "No pairing for QEMU domain 5 device 0");
    let (name, msg) = p
        .call::<_, Dict>("org.vifkit.Pairings1", "Lookup", &("kvm", 5u32, 0u32))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    assert_eq!(msg, "Driver \"kvm\" is neither `xen` nor `qemu`");
    let by_dev: Dict = p
        .call("org.vifkit.Pairings1", "LookupByDevice", &("vif5.0-emu",))
        .await
        .unwrap();
    assert_eq!(s(&by_dev, "backend"), "vif5.0");
    let by_mac: Dict = p
        .call(
            "org.vifkit.Pairings1",
            "LookupByMac",
            &("00:16:3E:00:00:05",),
        )
        .await
        .unwrap();
    assert_eq!(s(&by_mac, "bridge"), "br0");
    let (name, _) = p
        .call::<_, Dict>("org.vifkit.Pairings1", "Lookup", &("xen", 9u32, 0u32))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.NotFound");
    let (name, _) = p
        .call::<_, Dict>("org.vifkit.Pairings1", "LookupByMac", &("nonsense",))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    let (name, _) = p
        .call::<_, Dict>("org.vifkit.Pairings1", "LookupByDevice", &("a b",))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    let (name, _) = p
        .call::<_, Dict>(
            "org.vifkit.Pairings1",
            "LookupByDevice",
            &("x".repeat(5000),),
        )
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.TooLarge");

    hook.remove_attachment(registry::Driver::Xen, 5, 0).unwrap();
    loop {
        let (member, m) = next_signal(&mut stream).await;
        if member == "PairingRemoved" {
            let d = m.body().deserialize::<Dict>().unwrap();
            assert_eq!(s(&d, "backend"), "vif5.0");
            break;
        }
    }
}

#[tokio::test]
async fn translator_both_ways() {
    let p = peer(Duration::from_secs(1)).await;
    let (xml, warnings): (String, Vec<String>) = p
        .call(
            "org.vifkit.Translator1",
            "VifToXml",
            &("mac=00:16:3e:01:02:03,bridge=xenbr0,model=e1000", "hvm"),
        )
        .await
        .unwrap();
    assert!(xml.starts_with("<interface"), "{xml}");
    assert!(warnings.is_empty(), "{warnings:?}");
    let (spec, _): (String, Vec<String>) = p
        .call("org.vifkit.Translator1", "XmlToVif", &(&xml, "hvm"))
        .await
        .unwrap();
    assert!(spec.contains("model=e1000"), "{spec}");
    let (name, msg) = p
        .call::<_, (String, Vec<String>)>(
            "org.vifkit.Translator1",
            "VifToXml",
            &("model=e1000", "pv"),
        )
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InvalidSpec");
    assert!(msg.starts_with("vif[0]"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    let (name, _) = p
        .call::<_, (String, Vec<String>)>("org.vifkit.Translator1", "XmlToVif", &("<interface", ""))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.InvalidSpec");
    let big = "<!-- ".to_owned() + &"x".repeat(limits::MAX_XML) + " -->";
    let (name, _) = p
        .call::<_, (String, Vec<String>)>("org.vifkit.Translator1", "XmlToVif", &(&big, ""))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.TooLarge");
}

/// Translator2's InvalidSpec says the first error's message (one string, as GLib's
/// clients need); `Check` gives every error as fields.
#[tokio::test]
async fn translator2_errors_and_check() {
    let p = peer(Duration::from_secs(1)).await;
    let err = p
        .client
        .call_method(
            None::<&str>,
            OBJECT_PATH,
            Some("org.vifkit.Translator2"),
            "CfgToXml",
            &("vif = [ 'bridge=b', 'mac=zz', 'rate=fast' ]\n", "hvm"),
        )
        .await
        .unwrap_err();
    let zbus::Error::MethodError(name, desc, reply) = err else {
        panic!("{err}")
    };
    assert_eq!(name.as_str(), "org.vifkit.Error.InvalidSpec");
    let msg: String = reply.body().deserialize().unwrap();
    assert_eq!(desc.as_deref(), Some(msg.as_str()));
    let (ok, diags, _): (bool, Vec<translate2::Diag>, Vec<translate2::Diag>) = p
        .call(
            "org.vifkit.Translator2",
            "Check",
            &(
                "cfg",
                "vif = [ 'bridge=b', 'mac=zz', 'rate=fast' ]\n",
                "hvm",
            ),
        )
        .await
        .unwrap();
    assert!(!ok);
    let fields: Vec<(&str, i32, &str, &str)> = diags
        .iter()
        .map(|d| (d.0.as_str(), d.1, d.2.as_str(), d.3.as_str()))
        .collect();
    assert_eq!(
        fields,
        [("bad-mac", 1, "mac", "zz"), ("bad-rate", 2, "rate", "fast")]
    );
    assert_eq!(msg, diags[0].4);
    let (xml, warnings): (String, Vec<translate2::Diag>) = p
        .call(
            "org.vifkit.Translator2",
            "VifToXml",
            &("bridge=xenbr0,devid=2", "hvm"),
        )
        .await
        .unwrap();
    assert!(xml.contains("xenbr0"), "{xml}");
    assert_eq!(warnings[0].0, "dropped-key");
}

#[tokio::test]
async fn a_locked_registry_still_answers_reads() {
    let p = peer(Duration::from_millis(100)).await;
    let lock = registry::WriterLock::take(&p.db).unwrap();
    let list: Vec<(String, Dict)> = p.call("org.vifkit.Bridges1", "List", &()).await.unwrap();
    assert!(list.is_empty());
    let pairs: Vec<Dict> = p.call("org.vifkit.Pairings1", "List", &()).await.unwrap();
    assert!(pairs.is_empty());
    lock.release().unwrap();
}

#[tokio::test]
#[ignore = "needs root: without polkit, only a root peer may Register"]
async fn a_locked_registry_refuses_writes_in_time() {
    need_root();
    let p = peer(Duration::from_millis(100)).await;
    let lock = registry::WriterLock::take(&p.db).unwrap();
    let (name, msg) = p
        .call::<_, ()>("org.vifkit.Bridges1", "Register", &("vkbr0", &Dict::new()))
        .await
        .unwrap_err();
    assert_eq!(name, "org.vifkit.Error.Busy", "{msg}");
    lock.release().unwrap();
    p.call::<_, ()>("org.vifkit.Bridges1", "Register", &("vkbr0", &Dict::new()))
        .await
        .unwrap();
    let list: Vec<(String, Dict)> = p.call("org.vifkit.Bridges1", "List", &()).await.unwrap();
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn stopping_ends_the_watcher() {
    let mut p = peer(Duration::from_secs(1)).await;
    p.service.take().unwrap().stop(true).await;
}

/// Large requests beyond the per-connection bound are refused at once, not queued:
/// with every translation worker held busy, two large calls of one connection wait
/// in flight and the others get `LimitsExceeded`; once the workers are free the two
/// are answered and nothing is left in flight.
#[tokio::test]
async fn large_requests_in_flight_are_bounded() {
    let p = peer(Duration::from_secs(1)).await;
    let shared = Arc::clone(&p.service.as_ref().unwrap().shared);
    // Hold every worker until `release` is dropped.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(std::sync::Mutex::new(held));
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let blockers: Vec<_> = (0..store::WORKERS)
        .map(|_| {
            let (store, held, started_tx) = (
                Arc::clone(&shared.store),
                Arc::clone(&held),
                started_tx.clone(),
            );
            tokio::spawn(async move {
                store
                    .work(move || {
                        started_tx.send(()).unwrap();
                        let _ = held.lock().unwrap().recv();
                        Ok(())
                    })
                    .await
            })
        })
        .collect();
    for _ in 0..store::WORKERS {
        started.recv().await.unwrap();
    }
    let xml = format!(
        "<domain><description>{}</description><devices><interface type='bridge'>\
         <source bridge='xenbr0'/></interface></devices></domain>",
        "x".repeat(admission::LARGE)
    );
    let calls = 6;
    let body = (xml.as_str(), "hvm");
    let mut pending: futures::stream::FuturesUnordered<_> = (0..calls)
        .map(|_| p.call::<_, (String, Vec<String>)>("org.vifkit.Translator1", "XmlToVif", &body))
        .collect();
    // The refusals come while the admitted calls wait for a worker.
    for _ in 0..calls - admission::PER_CALLER {
        // Without the gate, every call would wait for a worker: none would come.
        let (name, msg) = tokio::time::timeout(Duration::from_secs(20), pending.next())
            .await
            .expect("a refusal while the workers are busy")
            .unwrap()
            .unwrap_err();
        assert_eq!(name, "org.freedesktop.DBus.Error.LimitsExceeded", "{msg}");
        assert!(
            msg.starts_with("Too many large requests: this connection has 2"),
            "{msg}"
        );
    }
    assert_eq!(shared.gate.in_flight(), admission::PER_CALLER);
    drop(release);
    for b in blockers {
        b.await.unwrap().unwrap();
    }
    while let Some(r) = pending.next().await {
        let (spec, _) = r.unwrap();
        assert!(spec.contains("bridge=xenbr0"), "{spec}");
    }
    assert_eq!(shared.gate.in_flight(), 0);
    assert_eq!(shared.gate.most_in_flight(), admission::PER_CALLER);
    assert_eq!(
        shared.gate.refused(),
        u64::try_from(calls - admission::PER_CALLER).unwrap()
    );
}

/// A call with more arguments than its method takes is refused, not answered.
#[tokio::test]
async fn extra_arguments_are_refused() {
    let p = peer(Duration::from_secs(1)).await;
    let (name, msg) = p
        .call::<_, Vec<(String, Dict)>>("org.vifkit.Bridges1", "List", &("extra",))
        .await
        .unwrap_err();
    assert_eq!(name, "org.freedesktop.DBus.Error.InvalidArgs");
    assert_eq!(msg, "Signature mismatch: got `s`, expected ``");
    let (name, msg) = p
        .call::<_, Vec<Dict>>("org.vifkit.Pairings1", "List", &(7u32,))
        .await
        .unwrap_err();
    assert_eq!(name, "org.freedesktop.DBus.Error.InvalidArgs", "{msg}");
    let (name, msg) = p
        .call::<_, Vec<(String, String, bool)>>("org.vifkit.NicModels1", "List", &("pv", 1u32))
        .await
        .unwrap_err();
    assert_eq!(name, "org.freedesktop.DBus.Error.InvalidArgs");
    assert_eq!(name, "org.freedesktop.DBus.Error.InvalidArgs");
    assert_eq!(msg, "Signature mismatch: got `(su)`, expected `s`");
}
