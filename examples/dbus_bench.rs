//! A D-Bus method call benchmark client: the same code calls any service, so vifkit's
//! and libvirt-dbus's figures come from one client (packaging/bench-dbus.sh runs it).
//!
//! ```text
//! dbus_bench --address unix:path=/tmp/bus --dest org.libvirt --path /org/libvirt/Test \
//!     --interface org.libvirt.Connect --method ListDomains --arg u:0 --count 10000
//! ```
//!
//! Each client is one connection on its own thread (a current-thread Tokio runtime),
//! calling sequentially: the next call is sent when the reply to the last one is in.
//! `--concurrency N` runs N such clients at once and splits `--count` among them. Every
//! call's latency (send to reply) is recorded; the report gives calls/s over the wall
//! time of the measured calls, p50, p99 and the maximum. An error reply stops the run.
//!
//! `--seed-registry DB` instead records one bridge (`xenbr0`) and one NIC (domain
//! `bench1`, domid 1, devid 0, MAC 00:16:3e:00:00:01, an HVM NIC with its emulated
//! twin) in a vifkit registry, so that
//! `Pairings1.Lookup("xen", 1, 0)` finds something, and exits; with `--seed-nics N`,
//! N such NICs, ten per domain (`benchD`, domid D, devids 0-9).

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Parser;
use zbus::wire::{Structure, StructureBuilder};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "dbus_bench",
    about = "Time D-Bus method calls (one client, any service)"
)]
struct Args {
    /// Record a bridge and a NIC in this vifkit registry (for Pairings1.Lookup("xen", 1, 0)), then exit.
    #[arg(long, value_name = "DB", conflicts_with_all = ["address", "dest", "path", "interface", "method"])]
    seed_registry: Option<PathBuf>,
    /// With `--seed-registry`: how many NICs to record (10 per domain, domains 1, 2, ...).
    #[arg(
        long,
        value_name = "N",
        requires = "seed_registry",
        default_value_t = 1
    )]
    seed_nics: u32,
    /// The bus address (e.g. `unix:path=/tmp/x/bus`).
    #[arg(long, required_unless_present = "seed_registry")]
    address: Option<String>,
    /// The destination bus name.
    #[arg(long, required_unless_present = "seed_registry")]
    dest: Option<String>,
    /// The object path.
    #[arg(long, required_unless_present = "seed_registry")]
    path: Option<String>,
    /// The interface.
    #[arg(long, required_unless_present = "seed_registry")]
    interface: Option<String>,
    /// The method.
    #[arg(long, required_unless_present = "seed_registry")]
    method: Option<String>,
    /// An argument, in order: `u:N`, `i:N`, `s:TEXT` or `b:true|false` (repeatable).
    #[arg(long = "arg", value_name = "TYPE:VALUE", allow_hyphen_values = true)]
    args: Vec<String>,
    /// Measured calls in all (split among the clients).
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Clients calling at once, each on its own connection and thread.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Unmeasured calls per client first (connection set-up, caches).
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// The name of this case in the report.
    #[arg(long)]
    label: Option<String>,
    /// Print one JSON object instead of a line.
    #[arg(long)]
    json: bool,
}

/// One typed argument from `--arg`.
#[derive(Debug, Clone)]
enum Arg {
    U32(u32),
    I32(i32),
    Str(String),
    Bool(bool),
}

fn parse_arg(s: &str) -> anyhow::Result<Arg> {
    let (t, v) = s
        .split_once(':')
        .with_context(|| format!("--arg {s:?}: expected TYPE:VALUE"))?;
    Ok(match t {
        "u" => Arg::U32(v.parse().with_context(|| format!("--arg {s:?}"))?),
        "i" => Arg::I32(v.parse().with_context(|| format!("--arg {s:?}"))?),
        "s" => Arg::Str(v.to_owned()),
        "b" => Arg::Bool(v.parse().with_context(|| format!("--arg {s:?}"))?),
        _ => bail!("--arg {s:?}: type must be u, i, s or b"),
    })
}

/// The message body: the arguments as one structure (whose fields are the body's), or
/// `None` for a call without arguments.
fn body(args: &[Arg]) -> anyhow::Result<Option<Structure<'static>>> {
    if args.is_empty() {
        return Ok(None);
    }
    let mut b = StructureBuilder::new();
    for a in args {
        b = match a {
            Arg::U32(v) => b.add_field(*v),
            Arg::I32(v) => b.add_field(*v),
            Arg::Str(v) => b.add_field(v.clone()),
            Arg::Bool(v) => b.add_field(*v),
        };
    }
    Ok(Some(b.build()?))
}

/// What to call.
#[derive(Debug, Clone)]
struct Target {
    address: String,
    dest: String,
    path: String,
    interface: String,
    method: String,
    args: Vec<Arg>,
}

/// What one client measured.
struct ClientResult {
    latencies: Vec<Duration>,
    reply_signature: String,
    start: Instant,
    end: Instant,
}

/// One client: connects, warms up, waits for the others, then makes `count` calls.
fn client(
    target: &Target,
    warmup: usize,
    count: usize,
    barrier: &Barrier,
) -> anyhow::Result<ClientResult> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Cannot start a Tokio runtime")?;
    let body = body(&target.args)?;
    rt.block_on(async {
        let conn = zbus::connection::Builder::address(target.address.as_str())
            .build()
            .await
            .with_context(|| format!("Cannot connect to {}", target.address))?;
        let call = || async {
            let reply = match &body {
                Some(b) => {
                    conn.call_method(
                        Some(target.dest.as_str()),
                        target.path.as_str(),
                        Some(target.interface.as_str()),
                        target.method.as_str(),
                        b,
                    )
                    .await
                }
                None => {
                    conn.call_method(
                        Some(target.dest.as_str()),
                        target.path.as_str(),
                        Some(target.interface.as_str()),
                        target.method.as_str(),
                        &(),
                    )
                    .await
                }
            };
            reply.with_context(|| {
                format!(
                    "{} {}.{} on {}",
                    target.path, target.interface, target.method, target.dest
                )
            })
        };
        let first = call().await?;
        let reply_signature = first.body().signature().to_string();
        for _ in 1..warmup {
            call().await?;
        }
        let mut latencies = Vec::with_capacity(count);
        barrier.wait();
        let start = Instant::now();
        for _ in 0..count {
            let t = Instant::now();
            call().await?;
            latencies.push(t.elapsed());
        }
        let end = Instant::now();
        Ok(ClientResult {
            latencies,
            reply_signature,
            start,
            end,
        })
    })
}

/// The `p`-th percentile (nearest rank) of sorted `v`.
fn percentile(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    // Nearest rank in integers: ceil(p * n / 100) for p in 0..=100, so no float cast.
    let p = p.clamp(0.0, 100.0);
    let n = v.len();
    let rank = (1..=n)
        .find(|&r| r as f64 * 100.0 >= p * n as f64)
        .unwrap_or(n);
    v[rank.max(1) - 1]
}

fn seed(db: &std::path::Path, nics: u32) -> anyhow::Result<()> {
    use registry::{Attachment, Bridge, BridgeKind, Driver, Registry, SqliteRegistry};
    let reg = SqliteRegistry::open(db)?;
    let br = translator::IfName::new("xenbr0")?;
    if reg.bridge(&br)?.is_none() {
        reg.add_bridge(&Bridge::new(br.clone(), BridgeKind::Linux))?;
    }
    // Ten NICs per domain, each domain in one transaction.
    let mut left = nics;
    let mut domid = 1;
    while left > 0 {
        let n = left.min(10);
        let domain = (0..n)
            .map(|devid| {
                let i = (domid - 1) * 10 + devid + 1;
                let mac = format!(
                    "00:16:3e:{:02x}:{:02x}:{:02x}",
                    (i >> 16) & 0xff,
                    (i >> 8) & 0xff,
                    i & 0xff
                );
                Ok(Attachment::xen(
                    format!("bench{domid}").parse()?,
                    domid,
                    devid,
                    mac.parse()?,
                    br.clone(),
                    true,
                )?)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        reg.replace_domain(Driver::Xen, domid, &domain)?;
        left -= n;
        domid += 1;
    }
    println!(
        "seeded {}: bridge xenbr0, {nics} NIC(s) from 1/0 (vif1.0, vif1.0-emu)",
        db.display()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    if let Some(db) = &a.seed_registry {
        return seed(db, a.seed_nics);
    }
    if a.concurrency == 0 || a.count < a.concurrency {
        bail!("--count must be at least --concurrency, which must be at least 1");
    }
    let target = Arc::new(Target {
        address: a.address.clone().unwrap_or_default(),
        dest: a.dest.clone().unwrap_or_default(),
        path: a.path.clone().unwrap_or_default(),
        interface: a.interface.clone().unwrap_or_default(),
        method: a.method.clone().unwrap_or_default(),
        args: a
            .args
            .iter()
            .map(|s| parse_arg(s))
            .collect::<anyhow::Result<_>>()?,
    });
    let barrier = Arc::new(Barrier::new(a.concurrency));
    let handles: Vec<_> = (0..a.concurrency)
        .map(|i| {
            let n = a.count / a.concurrency + usize::from(i < a.count % a.concurrency);
            let (target, barrier, warmup) = (Arc::clone(&target), Arc::clone(&barrier), a.warmup);
            std::thread::spawn(move || client(&target, warmup.max(1), n, &barrier))
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(
            h.join()
                .map_err(|_| anyhow::anyhow!("A client thread panicked"))??,
        );
    }
    let start = results.iter().map(|r| r.start).min().expect("one client");
    let end = results.iter().map(|r| r.end).max().expect("one client");
    let reply_signature = results[0].reply_signature.clone();
    let mut lat: Vec<Duration> = results.into_iter().flat_map(|r| r.latencies).collect();
    lat.sort_unstable();
    let wall = end - start;
    let calls_per_s = lat.len() as f64 / wall.as_secs_f64();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let label = a
        .label
        .clone()
        .unwrap_or_else(|| format!("{}.{}", target.interface, target.method));
    let (p50, p99, max) = (
        us(percentile(&lat, 50.0)),
        us(percentile(&lat, 99.0)),
        us(*lat.last().expect("calls")),
    );
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "label": label,
                "calls": lat.len(),
                "clients": a.concurrency,
                "warmup_calls": a.warmup.max(1) * a.concurrency,
                "seconds": wall.as_secs_f64(),
                "calls_per_s": calls_per_s,
                "p50_us": p50,
                "p99_us": p99,
                "max_us": max,
                "reply_signature": reply_signature,
            })
        );
    } else {
        println!(
            "{label}: {} calls, {} client(s), {:.0} calls/s, p50 {p50:.0} us, p99 {p99:.0} us, \
             max {max:.0} us (reply '{reply_signature}')",
            lat.len(),
            a.concurrency,
            calls_per_s,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_micros(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_micros(100));
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_micros(1));
    }

    #[test]
    fn args_parse_or_name_the_bad_one() {
        assert!(matches!(parse_arg("u:7"), Ok(Arg::U32(7))));
        assert!(matches!(parse_arg("s:a:b"), Ok(Arg::Str(s)) if s == "a:b"));
        assert!(parse_arg("u:-1").is_err());
        assert!(parse_arg("x:1").is_err());
        assert!(parse_arg("7").is_err());
    }
}
