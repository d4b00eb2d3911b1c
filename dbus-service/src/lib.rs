//! The D-Bus service `org.vifkit` at `/org/vifkit` (zbus, on tokio):
//!
//! - `org.vifkit.Bridges1` ([`Bridges`]): the registry's bridges; `Register`,
//!   `Unregister` and `Ensure` for root and polkit-authorized callers;
//! - `org.vifkit.NicModels1` ([`NicModels`]): the NIC models of a guest type;
//! - `org.vifkit.Pairings1` ([`Pairings`]): the NIC attachments, with signals for every
//!   change by any process ([`watch`]);
//! - `org.vifkit.Translator1` ([`Translator`]): vif spec <-> `<interface>`;
//! - `org.vifkit.Translator2` ([`Translator2`]): the same and a whole xl config, with
//!   structured diagnostics ([`translate2`]);
//! - `org.freedesktop.DBus.ObjectManager`, with an object per registered bridge
//!   (`org.vifkit.Bridge2`) and per recorded guest NIC (`org.vifkit.Nic2`) below
//!   `/org/vifkit` ([`objects`]).
//!
//! Errors are `org.vifkit.Error.<Name>` ([`ServiceError`]). No method blocks the
//! executor: registry, netlink and translation work runs on tokio's blocking pool
//! ([`Store`]), bounded, so every method answers while a hook holds the registry locked.
//! Large requests are admitted a few at a time, per connection and in all
//! ([`admission`]); the others are refused with `LimitsExceeded`.

mod access;
pub mod admission;
mod bridges;
pub mod cache;
mod dicts;
mod error;
mod nic_models;
pub mod objects;
mod pairings;
pub mod reconcile;
mod store;
mod translate;
pub mod translate2;
pub mod watch;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use zbus::object_server::SignalEmitter;
use zbus::Connection;

pub use access::{Access, Caller, MANAGE_ACTION};
pub use bridges::Bridges;
pub use dicts::{attachment as attachment_dict, Dict};
pub use error::{ServiceError, ERROR_PREFIX};
pub use nic_models::NicModels;
pub use pairings::Pairings;
pub use store::{Lease, Store};
pub use translate::Translator;
pub use translate2::Translator2;

use registry::{RegistryError, SharedRegistry};
use watch::{Event, Snapshot};

/// The service's well-known bus name.
pub const BUS_NAME: &str = "org.vifkit";
/// The object path of every interface.
pub const OBJECT_PATH: &str = "/org/vifkit";

/// Bounds on what a caller may hand the service.
pub mod limits {
    /// The longest name, MAC, guest type or option string taken, in bytes.
    pub const MAX_NAME: usize = 256;
    /// The most `Register` options taken.
    pub const MAX_OPTIONS: usize = 16;
    /// The longest vif spec taken (64 KiB).
    pub const MAX_SPEC: usize = 64 * 1024;
    /// The longest XML document taken (1 MiB).
    pub const MAX_XML: usize = 1024 * 1024;
    /// The most `<interface>` elements an XML document may hold: translating one takes
    /// tens of kilobytes, so 1 MiB of them would take hundreds of megabytes.
    pub const MAX_INTERFACES: usize = 256;
}

/// What every interface shares: the registry and the access rules.
#[derive(Debug)]
pub struct Shared {
    /// The registry.
    pub store: Arc<Store>,
    /// Who may change it.
    pub access: Access,
    /// The pairings `Pairings1` answers from (see [`cache`]).
    pub pairings: Arc<cache::PairingCache>,
    /// The gate of large requests (see [`admission`]).
    pub gate: Arc<admission::Gate>,
    /// Woken when the service changed the host (`Ensure`): the bridge objects' `Present`
    /// and `Ports` are read again at once.
    pub host_changed: tokio::sync::Notify,
}

impl Shared {
    /// Reads the pairings again and installs them (after a write this process made
    /// itself, such as the start-up reconcile, to answer from it at once).
    pub async fn refresh_pairings(&self) -> Result<(), ServiceError> {
        let cache = Arc::clone(&self.pairings);
        self.store
            .read(move |reg| {
                let snapshot = Snapshot::read(reg)?;
                cache.install(snapshot.pairing_index());
                Ok(())
            })
            .await
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The registry could not be opened.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A start-up job (on the blocking pool) failed.
    #[error("A start-up job failed while {op}: {why}")]
    Job {
        /// What the service was doing.
        op: &'static str,
        /// Why.
        why: String,
    },
    /// D-Bus failed.
    #[error("D-Bus failed while {op}")]
    Bus {
        /// What the service was doing.
        op: &'static str,
        /// zbus's error.
        #[source]
        source: zbus::Error,
    },
}

fn bus(op: &'static str) -> impl FnOnce(zbus::Error) -> StartError {
    move |source| StartError::Bus { op, source }
}

/// The registry the service runs on.
#[derive(Clone)]
pub enum Backend<'a> {
    /// A SQLite file (created if missing), watched with inotify.
    Sqlite(&'a Path),
    /// A shared registry (etcd), watched with its own watch: changes by every host of
    /// the fleet are seen (which of them the service shows: docs/dbus.md).
    Shared(Arc<dyn SharedRegistry>),
}

impl std::fmt::Debug for Backend<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Backend::Shared(r) => f.debug_tuple("Shared").field(&r.store_name()).finish(),
        }
    }
}

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config<'a> {
    /// The registry.
    pub registry: Backend<'a>,
    /// How long a write to a SQLite registry waits for another process's lock, per
    /// attempt (three attempts). A shared registry bounds each call by its own timeout.
    pub busy_timeout: Duration,
    /// Whether `conn` is the system bus (polkit subjects are bus names there).
    pub system_bus: bool,
}

/// A running service: dropping it stops the signals (the watcher thread ends within
/// [`watch::TICK`]).
#[derive(Debug)]
pub struct Service {
    /// What the interfaces share.
    pub shared: Arc<Shared>,
    watcher: Option<std::thread::JoinHandle<()>>,
    emitter_task: tokio::task::JoinHandle<()>,
}

impl Service {
    /// Serves the interfaces at [`OBJECT_PATH`] (and the objects below it) on `conn` and starts watching the
    /// registry (signals for every change from now on). The caller requests
    /// [`BUS_NAME`] afterwards, once everything is in place.
    pub async fn start(conn: &Connection, cfg: &Config<'_>) -> Result<Service, StartError> {
        let store = match &cfg.registry {
            Backend::Sqlite(db) => {
                let db = db.to_path_buf();
                let busy = cfg.busy_timeout;
                tokio::task::spawn_blocking(move || Store::open(&db, busy))
                    .await
                    .map_err(|e| StartError::Job {
                        op: "opening the registry",
                        why: e.to_string(),
                    })??
            }
            Backend::Shared(reg) => Store::shared(Arc::clone(reg)),
        };
        let shared = Arc::new(Shared {
            store,
            access: Access::new(cfg.system_bus),
            pairings: Arc::default(),
            gate: Arc::default(),
            host_changed: tokio::sync::Notify::new(),
        });
        // A file replaced from here on is a later epoch: the watcher reads it whole.
        let epoch = shared.store.epoch();
        // A shared registry out of reach fails here, within its timeout.
        let start = {
            let s = Arc::clone(&shared.store);
            tokio::task::spawn_blocking(move || Snapshot::read(s.lease(false)?.registry()))
                .await
                .map_err(|e| StartError::Job {
                    op: "reading the registry",
                    why: e.to_string(),
                })??
        };
        let server = conn.object_server();
        server
            .at(OBJECT_PATH, NicModels)
            .await
            .map_err(bus("serving org.vifkit.NicModels1"))?;
        server
            .at(
                OBJECT_PATH,
                Bridges {
                    shared: Arc::clone(&shared),
                },
            )
            .await
            .map_err(bus("serving org.vifkit.Bridges1"))?;
        server
            .at(
                OBJECT_PATH,
                Pairings {
                    shared: Arc::clone(&shared),
                },
            )
            .await
            .map_err(bus("serving org.vifkit.Pairings1"))?;
        server
            .at(
                OBJECT_PATH,
                Translator {
                    shared: Arc::clone(&shared),
                },
            )
            .await
            .map_err(bus("serving org.vifkit.Translator1"))?;
        server
            .at(
                OBJECT_PATH,
                Translator2 {
                    shared: Arc::clone(&shared),
                },
            )
            .await
            .map_err(bus("serving org.vifkit.Translator2"))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        shared.pairings.install(start.pairing_index());
        let model = objects::Model::start(conn, &shared, &shared.pairings.get())
            .await
            .map_err(|e| StartError::Bus {
                op: "serving the objects",
                source: zbus::Error::Failure(e.message().to_owned()),
            })?;
        let watcher = watch::spawn(
            Arc::clone(&shared.store),
            start,
            epoch,
            Arc::clone(&shared.pairings),
            tx,
        )?;
        let emitter = SignalEmitter::new(conn, OBJECT_PATH)
            .map_err(bus("making the signal emitter"))?
            .into_owned();
        let emitter_task = tokio::spawn(emit_events(emitter, rx, model, Arc::clone(&shared)));
        Ok(Service {
            shared,
            watcher: Some(watcher),
            emitter_task,
        })
    }

    /// Stops sending signals. The watcher thread notices within [`watch::TICK`] and
    /// ends (or ends with the process); `wait` waits for it.
    pub async fn stop(mut self, wait: bool) {
        self.emitter_task.abort();
        let _ = (&mut self.emitter_task).await;
        if let (true, Some(w)) = (wait, self.watcher.take()) {
            let _ = tokio::task::spawn_blocking(move || w.join()).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.emitter_task.abort();
    }
}

/// Prints a warning on stderr; a closed stderr is no reason to stop serving.
fn warn(msg: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "warning: {msg}");
}

/// Sends each batch of registry changes as signals, and makes the objects follow them
/// (and the host, every [`objects::HOST_TICK`] and when the service changed it).
async fn emit_events(
    emitter: SignalEmitter<'static>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<Event>>,
    mut model: objects::Model,
    shared: Arc<Shared>,
) {
    let mut tick = tokio::time::interval(objects::HOST_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let events = tokio::select! {
            got = rx.recv() => match got {
                Some(events) => events,
                None => return,
            },
            _ = tick.tick() => {
                model.refresh_host().await;
                continue;
            }
            () = shared.host_changed.notified() => {
                model.refresh_host().await;
                continue;
            }
        };
        model.apply(&events).await;
        for e in events {
            let sent = match &e {
                Event::BridgeAdded(n) => Bridges::bridge_added(&emitter, n).await,
                Event::BridgeRemoved(n) => Bridges::bridge_removed(&emitter, n).await,
                Event::BridgeChanged(n) => Bridges::bridge_changed(&emitter, n).await,
                Event::PairingAdded(a) => {
                    Pairings::pairing_added(&emitter, dicts::attachment(a)).await
                }
                Event::PairingRemoved(a) => {
                    Pairings::pairing_removed(&emitter, dicts::attachment(a)).await
                }
            };
            if let Err(err) = sent {
                warn(&format!("Cannot send the signal for {e:?}: {err}"));
            }
        }
    }
}

#[cfg(test)]
mod tests;
