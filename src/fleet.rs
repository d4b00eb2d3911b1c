//! The registry the configuration names, opened for the hooks and the hotplug script
//! (SQLite or etcd), `vifkit fleet keepalive` (the host lease of an etcd registry) and
//! `vifkit registry migrate` (SQLite <-> etcd).

use std::path::Path;

use anyhow::Context as _;
use registry::{DomainKey, LazyRegistry, Registry, RegistryError, SqliteRegistry};

use crate::config::{Config, RegistryUrl};
use crate::report::Failure;

/// The etcd registry of `url` for this host, with the `[etcd]` settings.
#[cfg(feature = "etcd")]
pub fn etcd(cfg: &Config, url: &str) -> anyhow::Result<registry_etcd::EtcdRegistry> {
    let mut e = registry_etcd::EtcdConfig::from_url(url, &cfg.host).map_err(anyhow::Error::msg)?;
    let f = &cfg.etcd;
    if f.ca.is_some() || f.cert.is_some() || f.key.is_some() {
        e.tls = Some(registry_etcd::TlsFiles {
            ca: f.ca.clone(),
            cert: f.cert.clone(),
            key: f.key.clone(),
        });
    }
    if let Some(ms) = f.timeout_ms {
        e.timeout = std::time::Duration::from_millis(ms.max(1));
    }
    if let Some(s) = f.lease_ttl_s {
        e.lease_ttl = std::time::Duration::from_secs(s.max(2));
    }
    if let Some(p) = &f.prefix {
        e.prefix = p.clone();
    }
    Ok(registry_etcd::EtcdRegistry::new(e)?)
}

#[cfg(not(feature = "etcd"))]
fn no_etcd(url: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "Registry {url}: this vifkit was built without the etcd registry (feature `etcd`)"
    )
}

/// The registry the configuration names, opened on first use (a hook for a guest
/// without a bridged NIC never touches it).
pub fn open(cfg: &Config) -> anyhow::Result<Box<dyn Registry>> {
    match &cfg.registry {
        RegistryUrl::Sqlite(p) => Ok(Box::new(LazyRegistry::new(p))),
        #[cfg(feature = "etcd")]
        RegistryUrl::Etcd(u) => Ok(Box::new(etcd(cfg, u)?)),
        #[cfg(not(feature = "etcd"))]
        RegistryUrl::Etcd(u) => Err(no_etcd(u)),
    }
}

/// The etcd registry of `url` for this host, for the D-Bus service (which watches it).
pub fn shared(
    cfg: &Config,
    url: &str,
) -> anyhow::Result<std::sync::Arc<dyn registry::SharedRegistry>> {
    #[cfg(feature = "etcd")]
    {
        Ok(std::sync::Arc::new(etcd(cfg, url)?))
    }
    #[cfg(not(feature = "etcd"))]
    {
        let _ = cfg;
        Err(no_etcd(url))
    }
}

/// `vifkit fleet keepalive`: keeps this host's lease alive until SIGTERM or SIGINT.
pub fn keepalive(cfg: &Config) -> anyhow::Result<String> {
    match &cfg.registry {
        RegistryUrl::Sqlite(p) => anyhow::bail!(
            "Registry sqlite:{}: a host-local registry has no lease to keep alive (set \
             registry = \"etcd://...\")",
            p.display()
        ),
        #[cfg(feature = "etcd")]
        RegistryUrl::Etcd(u) => {
            let reg = etcd(cfg, u)?;
            let stop = stop_flag()?;
            let mut event = |line: &str| eprintln!("{}", translator::diag::one_line(line));
            reg.keep_alive(
                &|| stop.load(std::sync::atomic::Ordering::Relaxed),
                &mut event,
            )?;
            Ok(String::new())
        }
        #[cfg(not(feature = "etcd"))]
        RegistryUrl::Etcd(u) => Err(no_etcd(u)),
    }
}

/// A flag SIGTERM and SIGINT set.
#[cfg(feature = "etcd")]
fn stop_flag() -> anyhow::Result<&'static std::sync::atomic::AtomicBool> {
    static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    extern "C" fn on_signal(_: libc::c_int) {
        STOP.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        let old = unsafe { libc::signal(sig, handler) };
        if old == libc::SIG_ERR {
            anyhow::bail!("Cannot catch signal {sig}");
        }
    }
    Ok(&STOP)
}

/// A registry of either kind, opened to write.
fn open_to_write(cfg: &Config, url: &str) -> anyhow::Result<Box<dyn Registry>> {
    let parsed = RegistryUrl::parse(url).map_err(anyhow::Error::msg)?;
    match parsed {
        RegistryUrl::Sqlite(p) => Ok(Box::new(open_sqlite(&p)?)),
        #[cfg(feature = "etcd")]
        RegistryUrl::Etcd(u) => {
            let reg = etcd(cfg, &u)?;
            reg.ensure_lease()?;
            Ok(Box::new(reg))
        }
        #[cfg(not(feature = "etcd"))]
        RegistryUrl::Etcd(u) => {
            let _ = cfg;
            Err(no_etcd(&u))
        }
    }
}

fn open_sqlite(p: &Path) -> Result<SqliteRegistry, RegistryError> {
    SqliteRegistry::open(p)
}

/// `vifkit registry migrate --from URL --to URL`: copies this host's bridges, marks
/// and NIC records from one registry to the other. Idempotent: what is there already
/// is left, a bridge that differs is updated, each domain's NICs are replaced in one
/// step.
pub fn migrate(cfg: &Config, from: &str, to: &str) -> anyhow::Result<String> {
    let src = open_to_write(cfg, from).with_context(|| format!("--from {from}"))?;
    let dst = open_to_write(cfg, to).with_context(|| format!("--to {to}"))?;
    let (mut added, mut updated, mut domains, mut nics) = (0, 0, 0, 0);
    for b in src.bridges()? {
        match dst.bridge(&b.name)? {
            None => {
                dst.add_bridge(&b)?;
                added += 1;
            }
            Some(o) if o != b => {
                dst.update_bridge(&b)?;
                updated += 1;
            }
            Some(_) => {}
        }
        if src.bridge_made(&b.name)? != dst.bridge_made(&b.name)? {
            dst.set_bridge_made(&b.name, src.bridge_made(&b.name)?)?;
        }
    }
    let all = src.attachments()?;
    let mut keys: Vec<(registry::Driver, u32)> = all.iter().map(|a| (a.driver, a.domid)).collect();
    keys.dedup();
    for (driver, domid) in keys {
        let mine: Vec<_> = all
            .iter()
            .filter(|a| a.driver == driver && a.domid == domid)
            .cloned()
            .collect();
        if dst.domain_attachments(driver, &DomainKey::Id(domid))? != mine {
            dst.replace_domain(driver, domid, &mine)?;
            domains += 1;
            nics += mine.len();
        }
    }
    Ok(format!(
        "{from} -> {to}: {added} bridge(s) added, {updated} updated, {nics} NIC(s) of \
         {domains} domain(s) written\n"
    ))
}

/// The options of `fleet override`, as given.
#[derive(Debug)]
pub struct OverrideArgs<'a> {
    /// `NAME`.
    pub name: &'a str,
    /// `--uplink`, `none` for as shared.
    pub uplink: Option<&'a str>,
    /// `--mtu`, `none` for as shared.
    pub mtu: Option<&'a str>,
    /// `--clear`.
    pub clear: bool,
}

/// `vifkit fleet override`: shows, sets or drops this host's override of a shared
/// bridge. Every value is checked before the registry is opened.
pub fn set_override(cfg: &Config, a: &OverrideArgs<'_>) -> Result<String, Failure> {
    let mut problems = Vec::new();
    let name = registry::parse_if_name("bridge name", a.name)
        .map_err(|e| problems.push(e.to_string()))
        .ok();
    // `Some(None)`: `none`, as shared.
    let uplink = match a.uplink {
        None => None,
        Some("none") => Some(None),
        Some(u) => registry::parse_if_name("--uplink", u)
            .map(|n| Some(Some(n.to_string())))
            .unwrap_or_else(|e| {
                problems.push(e.to_string());
                None
            }),
    };
    let mtu = match a.mtu {
        None => None,
        Some("none") => Some(None),
        Some(m) => match m.parse::<registry::Mtu>() {
            Ok(m) => Some(Some(m.get())),
            Err(e) => {
                problems.push(format!("--mtu: {e}"));
                None
            }
        },
    };
    let Some(name) = name.filter(|_| problems.is_empty()) else {
        return Err(Failure::Invalid(problems));
    };
    let reg = match &cfg.registry {
        RegistryUrl::Sqlite(p) => {
            return Err(Failure::Invalid(vec![format!(
                "Registry sqlite:{}: per-host overrides belong to a shared (etcd) registry; \
                 on one host, change the bridge itself with `vifkit bridge set`",
                p.display()
            )]))
        }
        #[cfg(feature = "etcd")]
        RegistryUrl::Etcd(u) => etcd(cfg, u)?,
        #[cfg(not(feature = "etcd"))]
        RegistryUrl::Etcd(u) => return Err(no_etcd(u).into()),
    };
    #[cfg(feature = "etcd")]
    {
        let shown = |o: &Option<registry_etcd::BridgeOverride>| match o {
            None => format!("{name} on host {}: as shared (no override)\n", cfg.host),
            Some(o) => format!(
                "{name} on host {}: uplink {}, mtu {}\n",
                cfg.host,
                o.uplink.as_deref().unwrap_or("as shared"),
                o.mtu
                    .map_or_else(|| "as shared".to_owned(), |m| m.to_string())
            ),
        };
        let ctx = || format!("Bridge {name}'s override on host {}", cfg.host);
        if a.clear {
            reg.set_override(&name, None).with_context(ctx)?;
            return Ok(shown(&None));
        }
        let mut over = reg.override_here(&name).with_context(ctx)?;
        if uplink.is_none() && mtu.is_none() {
            // Reading needs the bridge to be registered, as writing does.
            if reg.bridge(&name).with_context(ctx)?.is_none() {
                return Err(anyhow::Error::from(RegistryError::UnknownBridge(name)).into());
            }
            return Ok(shown(&over));
        }
        let mut o = over.take().unwrap_or_default();
        if let Some(u) = uplink {
            o.uplink = u;
        }
        if let Some(m) = mtu {
            o.mtu = m;
        }
        // An override that says nothing is no override.
        let o = (o != registry_etcd::BridgeOverride::default()).then_some(o);
        reg.set_override(&name, o.as_ref()).with_context(ctx)?;
        Ok(shown(&o))
    }
}
