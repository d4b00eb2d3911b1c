//! `vifkit serve`: the D-Bus service (`dbus_service`) on the system bus, the session bus
//! or a bus address, on a current-thread tokio runtime, until SIGTERM or SIGINT.
//!
//! With `--libvirt URI` the stale pairings are first dropped (as `vifkit reconcile
//! --connect URI` drops them) and those of the domains running there made to match their
//! live XML, which the `vifkit-libvirt` helper reads (`vifkit` itself never links
//! libvirt); then libvirt's domain events are followed ([`crate::events_cmd`]): NICs
//! hot-plugged and unplugged are recorded, refused (detached again) or dropped.
//!
//! The registry is the configuration's: a SQLite file, or an etcd cluster (whose watch
//! then drives the signals, changes by every host of the fleet included; docs/dbus.md).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use dbus_service::reconcile;
use dbus_service::{Backend, Config, Service, ServiceError, Store, BUS_NAME};
use hostnet::netlink::Netlink;
use hostnet::stale;
use tokio::signal::unix::{signal, SignalKind};
use zbus::connection::Builder;
use zbus::fdo::{RequestNameFlags, RequestNameReply};

use crate::config::RegistryUrl;
use crate::report::{chain, Failure};

/// The options of `serve`.
#[derive(Debug)]
pub struct ServeArgs<'a> {
    /// `--session`.
    pub session: bool,
    /// `--address`.
    pub address: Option<&'a str>,
    /// `--libvirt`.
    pub libvirt: Option<&'a str>,
    /// `--busy-timeout-ms`.
    pub busy_timeout: Duration,
}

/// A line on stderr; a closed stderr (a journal gone away) does not stop the service.
fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{}", translator::diag::one_line(line));
}

/// The registry the service runs on.
enum Reg {
    File(PathBuf),
    Shared(Arc<dyn registry::SharedRegistry>),
}

/// `serve`.
pub fn run(cfg: &crate::config::Config, args: &ServeArgs<'_>) -> Result<String, Failure> {
    let db = match &cfg.registry {
        RegistryUrl::Sqlite(p) => Reg::File(p.clone()),
        RegistryUrl::Etcd(u) => Reg::Shared(crate::fleet::shared(cfg, u)?),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Cannot start the async runtime")?;
    // The etcd client owns a runtime, which must not be dropped on this one's thread
    // while it runs: the last handle is this one, dropped after `block_on`.
    let _keep = match &db {
        Reg::Shared(r) => Some(Arc::clone(r)),
        Reg::File(_) => None,
    };
    rt.block_on(serve(db, args))?;
    // The watcher thread may be asleep in poll: do not wait for it.
    rt.shutdown_background();
    Ok(String::new())
}

async fn serve(db: Reg, args: &ServeArgs<'_>) -> anyhow::Result<()> {
    let (builder, which) = match (args.address, args.session) {
        (Some(a), _) => (Builder::address(a), format!("the bus at {a}")),
        (None, true) => (Builder::session(), "the session bus".to_owned()),
        (None, false) => (Builder::system(), "the system bus".to_owned()),
    };
    let system_bus = args.address.is_none() && !args.session;
    let conn = builder
        .build()
        .await
        .with_context(|| format!("Cannot connect to {which}"))?;
    let mut term = signal(SignalKind::terminate()).context("Cannot catch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("Cannot catch SIGINT")?;
    let (registry, shown) = match &db {
        Reg::File(p) => (Backend::Sqlite(p), p.display().to_string()),
        Reg::Shared(r) => (Backend::Shared(Arc::clone(r)), r.store_name()),
    };
    let cfg = Config {
        registry,
        busy_timeout: args.busy_timeout,
        system_bus,
    };
    let service = Service::start(&conn, &cfg)
        .await
        .context("Cannot start the service")?;
    let mut _follower = None;
    if let Some(uri) = args.libvirt {
        // Events from now on, then the reconcile: a change in between is seen either way.
        match crate::events_cmd::follow(Arc::clone(&service.shared.store), uri, say).await {
            Ok(f) => _follower = Some(f),
            Err(e) => say(&format!(
                "warning: Cannot follow libvirt's domain events at {uri}: {e:#}"
            )),
        }
        // A libvirt that cannot be read is reported; the service runs all the same.
        if let Err(e) = reconcile_with(&service.shared.store, uri).await {
            say(&format!("warning: Reconciling pairings with {uri}: {e:#}"));
        }
        // Answer from the reconciled pairings from the first call on.
        service
            .shared
            .refresh_pairings()
            .await
            .map_err(|e| anyhow!("{}", e.message().to_owned()))
            .context("Cannot read the registry")?;
    }
    // Not zbus's default flags, which let the next requester take the name: never
    // queued, never replaced, and never replacing a running service.
    let reply = conn
        .request_name_with_flags(BUS_NAME, RequestNameFlags::DO_NOT_QUEUE)
        .await
        .map_err(|e| match e {
            zbus::Error::NameTaken => anyhow!(
                "{BUS_NAME} is already owned on {which}: another vifkit serve is running there"
            ),
            e => anyhow!(e).context(format!("Cannot own {BUS_NAME} on {which}")),
        })?;
    if !matches!(
        reply,
        RequestNameReply::PrimaryOwner | RequestNameReply::AlreadyOwner
    ) {
        bail!("Cannot own {BUS_NAME} on {which}: the bus answered {reply:?}");
    }
    say(&format!(
        "vifkit serve: {BUS_NAME} on {which}, registry {shown}"
    ));
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        () = conn.closed() => bail!("The connection to {which} was closed"),
    }
    service.stop(false).await;
    let _ = conn.release_name(BUS_NAME).await;
    Ok(())
}

/// Asks libvirt for the running domains (`vifkit-libvirt running-domains URI`), drops
/// the stale pairings (as `vifkit reconcile --connect URI` does) and replaces the running
/// domains' pairings with their live XML.
async fn reconcile_with(store: &Arc<Store>, uri: &str) -> anyhow::Result<()> {
    let uri_owned = uri.to_owned();
    let libvirt = tokio::task::spawn_blocking(move || {
        crate::reconcile_cmd::ask_libvirt(&uri_owned, "--libvirt")
    })
    .await??;
    let (swept, done) = store
        .write(move |reg| {
            let nl = Netlink::new().map_err(|e| ServiceError::Host(chain(&e)))?;
            let xenstore = crate::reconcile_cmd::xenstore();
            let swept = crate::reconcile_cmd::sweep(reg, &nl, Some(&libvirt), xenstore.as_ref())
                .map_err(|e| ServiceError::Registry(chain(&e)))?;
            let done = reconcile::reconcile(reg, &libvirt.domains, &libvirt.networks)?;
            Ok((swept, done))
        })
        .await
        .map_err(|e| anyhow!("{}", e.message().to_owned()))?;
    for (a, why) in &swept.dropped {
        say(&format!("vifkit serve: {}", stale::dropped_line(a, why)));
    }
    for n in &done.notes {
        say(&format!("warning: {n}"));
    }
    say(&format!(
        "vifkit serve: {} running domain(s) at {uri}: {} pairing(s) recorded, {} dropped",
        done.domains,
        done.pairings,
        done.dropped + swept.dropped.len()
    ));
    Ok(())
}
