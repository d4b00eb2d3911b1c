//! The registry side of packaging/bench-etcd.sh.
//!
//! `etcd-bench claims URL PREFIX CLIENTS TOTAL`: TOTAL NIC records, each claiming a new
//! MAC, from CLIENTS threads at once (each its own host id, connection and lease);
//! prints the claims per second.
//!
//! `etcd-bench fill URL|sqlite:PATH PREFIX HOST N BRIDGE`: N NIC records (8 per
//! domain, one transaction each) for host HOST on BRIDGE (which must be registered).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use registry::{Attachment, DomainName, Driver, Registry, SqliteRegistry};
use registry_etcd::{EtcdConfig, EtcdRegistry};
use translator::{IfName, MacAddr};

fn etcd(url: &str, prefix: &str, host: &str) -> EtcdRegistry {
    let mut cfg = EtcdConfig::from_url(url, host).expect("an etcd:// URL");
    cfg.prefix = prefix.to_owned();
    cfg.timeout = Duration::from_secs(10);
    cfg.lease_ttl = Duration::from_secs(120);
    let reg = EtcdRegistry::new(cfg).expect("a registry");
    reg.ensure_lease().expect("a lease");
    reg
}

fn mac(n: u32) -> MacAddr {
    let [a, b, c, d] = n.to_be_bytes();
    MacAddr::new([0x02, a, b, c, d, 0x01]).expect("a unicast MAC")
}

fn nic(domid: u32, devid: u32, n: u32, bridge: &str) -> Attachment {
    Attachment::xen(
        DomainName::new(format!("g{domid}")).expect("a name"),
        domid,
        devid,
        mac(n),
        IfName::new(bridge).expect("a bridge name"),
        false,
    )
    .expect("a NIC")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["claims", url, prefix, clients, total] => {
            let clients: u32 = clients.parse().expect("CLIENTS");
            let total: u32 = total.parse().expect("TOTAL");
            let each = total / clients;
            let regs: Vec<EtcdRegistry> = (0..clients)
                .map(|i| {
                    let r = etcd(url, prefix, &format!("c{i}"));
                    r.add_bridge(&registry::Bridge::new(
                        IfName::new("brb").expect("name"),
                        registry::BridgeKind::Linux,
                    ))
                    .ok();
                    r
                })
                .collect();
            let barrier = Arc::new(Barrier::new(clients as usize + 1));
            let start = std::thread::scope(|s| {
                for (i, r) in regs.iter().enumerate() {
                    let barrier = barrier.clone();
                    let i = u32::try_from(i).expect("few clients");
                    s.spawn(move || {
                        barrier.wait();
                        for k in 0..each {
                            let n = 1_000_000 * (i + 1) + k;
                            r.record(&nic(1 + k / 8, k % 8, n, "brb")).expect("a claim");
                        }
                    });
                }
                barrier.wait();
                Instant::now()
            });
            let secs = start.elapsed().as_secs_f64();
            let done = f64::from(each * clients);
            println!(
                "{clients:>2} client(s): {done:.0} MAC claims in {secs:.2} s = {:.0} claims/s",
                done / secs
            );
        }
        ["fill", url, prefix, host, n, bridge] => {
            let n: u32 = n.parse().expect("N");
            let reg: Box<dyn Registry> = match url.strip_prefix("sqlite:") {
                Some(p) => Box::new(SqliteRegistry::open(p).expect("a SQLite registry")),
                None => Box::new(etcd(url, prefix, host)),
            };
            let start = Instant::now();
            for d in 0..n.div_ceil(8) {
                let nics: Vec<Attachment> = (0..8)
                    .filter(|k| d * 8 + k < n)
                    .map(|k| nic(100 + d, k, 5_000_000 + d * 8 + k, bridge))
                    .collect();
                reg.replace_domain(Driver::Xen, 100 + d, &nics)
                    .expect("a domain's NICs");
            }
            println!(
                "filled {n} records in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        _ => {
            eprintln!(
                "usage: etcd-bench claims URL PREFIX CLIENTS TOTAL\n       \
                 etcd-bench fill URL|sqlite:PATH PREFIX HOST N BRIDGE"
            );
            std::process::exit(2);
        }
    }
}
