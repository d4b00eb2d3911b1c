//! Watching every key of the registry (an etcd watch on the prefix), for the D-Bus
//! service's signals: [`ChangeWatch`] is a blocking feed of [`Notice`]s.
//!
//! The watch runs on a thread of its own, with a current-thread runtime of its own: the
//! registry's runtime only runs while a call blocks on it, so a watch stream there would
//! not be read between calls, and the service's runtime (zbus) should not carry etcd's
//! client either. The thread ends within [`STOP_CHECK`] of the feed being dropped.
//!
//! A watch that fails (a member killed, a stream closed, a watch cancelled by etcd
//! because its member lost its leader) is set up
//! again, on any member, after a pause that doubles up to [`BACKOFF_MAX`]; the feed says
//! [`Notice::Lost`] when it breaks and [`Notice::Changed`] once it is back, since
//! changes made meanwhile were not seen: the reader reads the registry whole again.
//! Each watch starts at the store's current revision, never an old one, so compaction
//! cannot cancel it (a cancellation naming a compacted revision is handled all the same).
//! Nothing here ever ends the process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, WatchOptions};
use registry::{ChangeFeed, Notice, RegistryError, SharedRegistry};

use crate::EtcdRegistry;

/// The longest pause between two attempts to set the watch up again.
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);
/// How often the watch thread looks whether its feed was dropped.
pub const STOP_CHECK: Duration = Duration::from_millis(250);

/// A watch of every key under the registry's prefix (see the module's documentation).
/// Dropping it stops the watch.
#[derive(Debug)]
pub struct ChangeWatch {
    rx: mpsc::Receiver<Notice>,
    stop: Arc<AtomicBool>,
}

impl ChangeFeed for ChangeWatch {
    fn wait(&mut self, timeout: Duration) -> Notice {
        match self.rx.recv_timeout(timeout) {
            Ok(n) => n,
            Err(mpsc::RecvTimeoutError::Timeout) => Notice::Quiet,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Only a panic ends the thread while the feed lives: say so, slowly.
                std::thread::sleep(timeout);
                Notice::Lost("the watch thread ended".into())
            }
        }
    }
}

impl Drop for ChangeWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What the watch thread needs.
struct Watcher {
    store: String,
    endpoints: Vec<String>,
    opts: ConnectOptions,
    prefix: String,
    timeout: Duration,
    tx: mpsc::Sender<Notice>,
    stop: Arc<AtomicBool>,
}

impl EtcdRegistry {
    /// Starts watching every key under the prefix, on a thread of its own. Fails only
    /// when the thread or its runtime cannot start, or the TLS files cannot be read: a
    /// cluster out of reach is a [`Notice::Lost`], and the watch keeps trying.
    pub fn watch_changes(&self) -> Result<ChangeWatch, RegistryError> {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let w = Watcher {
            store: self.store(),
            endpoints: self.endpoint_urls(),
            opts: self.connect_options()?,
            prefix: self.cfg.prefix.clone(),
            timeout: self.cfg.timeout,
            tx,
            stop: Arc::clone(&stop),
        };
        let failed = |op: &'static str, e: std::io::Error| RegistryError::Store {
            store: self.store(),
            op,
            source: Box::new(e),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| failed("starting the watch's runtime", e))?;
        std::thread::Builder::new()
            .name("vifkit-etcd-watch".into())
            .spawn(move || rt.block_on(w.run()))
            .map_err(|e| failed("starting the watch's thread", e))?;
        Ok(ChangeWatch { rx, stop })
    }
}

impl SharedRegistry for EtcdRegistry {
    fn store_name(&self) -> String {
        self.store()
    }

    fn watch(&self) -> Result<Box<dyn ChangeFeed>, RegistryError> {
        Ok(Box::new(self.watch_changes()?))
    }
}

/// Why one watch ended.
enum End {
    /// The feed was dropped.
    Stopped,
    /// The watch broke, after it was set up (`true`) or before.
    Lost(String, bool),
}

impl Watcher {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    async fn run(self) {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.once().await {
                End::Stopped => return,
                End::Lost(why, was_up) => {
                    if was_up {
                        pause = Duration::from_millis(100);
                    }
                    let line = format!("the etcd watch of {}: {why}", self.store);
                    if self.tx.send(Notice::Lost(line)).is_err() {
                        return;
                    }
                }
            }
            let mut left = pause;
            while !left.is_zero() {
                if self.stopped() {
                    return;
                }
                let step = left.min(STOP_CHECK);
                tokio::time::sleep(step).await;
                left -= step;
            }
            pause = (pause * 2).min(BACKOFF_MAX);
        }
    }

    /// Connects, sets the watch up and forwards its events until it breaks.
    async fn once(&self) -> End {
        let lost = |why: String| End::Lost(translator::diag::one_line(&why), false);
        let t = self.timeout;
        let late = |op: &str| format!("no answer within {} ms while {op}", t.as_millis());
        let mut client = match tokio::time::timeout(
            t,
            Client::connect(self.endpoints.clone(), Some(self.opts.clone())),
        )
        .await
        {
            Err(_) => return lost(late("connecting")),
            Ok(Err(e)) => return lost(format!("connecting: {e}")),
            Ok(Ok(c)) => c,
        };
        let opts = WatchOptions::new().with_prefix();
        let mut stream =
            match tokio::time::timeout(t, client.watch(self.prefix.as_str(), Some(opts))).await {
                Err(_) => return lost(late("setting the watch up")),
                Ok(Err(e)) => return lost(format!("setting the watch up: {e}")),
                Ok(Ok(s)) => s,
            };
        // The first answer says whether the watch was created.
        match tokio::time::timeout(t, stream.message()).await {
            Err(_) => return lost(late("setting the watch up")),
            Ok(Err(e)) => return lost(format!("setting the watch up: {e}")),
            Ok(Ok(None)) => return lost("the member closed the watch".into()),
            Ok(Ok(Some(r))) if r.canceled() => {
                return lost(format!("the watch was refused: {}", r.cancel_reason()))
            }
            Ok(Ok(Some(_))) => {}
        }
        // Changes may have been made while there was no watch: the reader reads whole.
        if self.tx.send(Notice::Changed).is_err() {
            return End::Stopped;
        }
        let broke = |why: String| End::Lost(translator::diag::one_line(&why), true);
        loop {
            if self.stopped() {
                return End::Stopped;
            }
            // Reading a tonic stream is cancel-safe: a message is never half-read.
            match tokio::time::timeout(STOP_CHECK, stream.message()).await {
                Err(_) => {}
                Ok(Err(e)) => return broke(e.to_string()),
                Ok(Ok(None)) => return broke("the member closed the watch".into()),
                Ok(Ok(Some(r))) if r.canceled() => {
                    let why = if r.compact_revision() > 0 {
                        format!(
                            "the watch was cancelled: revision {} was compacted",
                            r.compact_revision()
                        )
                    } else {
                        format!("the watch was cancelled: {}", r.cancel_reason())
                    };
                    return broke(why);
                }
                Ok(Ok(Some(r))) => {
                    if !r.events().is_empty() && self.tx.send(Notice::Changed).is_err() {
                        return End::Stopped;
                    }
                }
            }
        }
    }
}
