//! The registry the configuration names, opened for the hooks and the hotplug script
//! (SQLite or etcd), `vifkit fleet keepalive` (the host lease of an etcd registry) and
//! `vifkit registry migrate` (SQLite <-> etcd).

use std::path::Path;

use anyhow::Context as _;
use registry::{DomainKey, LazyRegistry, Registry, RegistryError, SqliteRegistry};

use crate::config::{Config, RegistryUrl};

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
