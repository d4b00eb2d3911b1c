//! Watching the registry for changes by any process (hooks, the CLI, the service
//! itself): a thread sleeps in `poll` on an inotify descriptor for the database's
//! directory, so a write wakes it at once, and otherwise every [`TICK`] (the fallback,
//! should inotify miss something or be unavailable). On each wake it compares the
//! registry's generation with the last one it saw and, only when it moved, reads the
//! bridges and pairings and sends what was added, removed or changed. Its reads go
//! through the [`Store`]'s connections: when the registry file was replaced, the store
//! reopens it (a new epoch), and the watcher reads the whole registry again and sends
//! what differs from what it last saw, whatever the generations say.
//!
//! On a shared registry (etcd) the registry's own watch wakes the thread instead
//! ([`ChangeFeed`]: an etcd watch on the prefix, so every change by any host of the
//! fleet): it reads the registry whole on each wake, notices that queued meanwhile
//! answered by that one read, and sends the same [`Event`]s. The generation is no
//! shortcut there: keys that expire with a host's lease go without a new generation. A
//! lost watch is said once on stderr and set up again by the feed; once it is back the
//! registry is read whole again, so nothing changed meanwhile is missed.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::cache::{PairingCache, PairingIndex};
use super::store::Store;
use registry::{Attachment, Bridge, ChangeFeed, Driver, Notice, Registry, RegistryError};

/// How often the watcher looks at the registry when no inotify event woke it.
pub const TICK: Duration = Duration::from_secs(2);

/// What changed in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A bridge was registered.
    BridgeAdded(String),
    /// A bridge was unregistered.
    BridgeRemoved(String),
    /// A bridge's entry changed.
    BridgeChanged(String),
    /// A pairing was recorded.
    PairingAdded(Attachment),
    /// A pairing was dropped (or replaced: then a `PairingAdded` follows).
    PairingRemoved(Attachment),
}

/// The registry's content at one generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The registry's generation when it was read.
    pub generation: u64,
    bridges: BTreeMap<String, Bridge>,
    pairings: BTreeMap<(Driver, u32, u32), Attachment>,
}

impl Snapshot {
    /// Reads the whole registry.
    pub fn read(reg: &dyn Registry) -> Result<Snapshot, RegistryError> {
        let generation = reg.generation()?;
        Ok(Snapshot {
            generation,
            bridges: reg
                .bridges()?
                .into_iter()
                .map(|b| (b.name.to_string(), b))
                .collect(),
            pairings: reg
                .attachments()?
                .into_iter()
                .map(|a| ((a.driver, a.domid, a.devid), a))
                .collect(),
        })
    }

    /// The pairings, indexed for the lookups.
    pub fn pairing_index(&self) -> PairingIndex {
        PairingIndex::new(self.generation, self.pairings.values())
    }

    /// What changed from `self` to `new`: bridges first, then removed pairings (so that
    /// a replaced pairing's MAC is free again before it is added), then added ones.
    pub fn diff(&self, new: &Snapshot) -> Vec<Event> {
        let mut out = Vec::new();
        for (name, b) in &new.bridges {
            match self.bridges.get(name) {
                None => out.push(Event::BridgeAdded(name.clone())),
                Some(old) if old != b => out.push(Event::BridgeChanged(name.clone())),
                Some(_) => {}
            }
        }
        for name in self.bridges.keys() {
            if !new.bridges.contains_key(name) {
                out.push(Event::BridgeRemoved(name.clone()));
            }
        }
        for (key, old) in &self.pairings {
            if new.pairings.get(key) != Some(old) {
                out.push(Event::PairingRemoved(old.clone()));
            }
        }
        for (key, a) in &new.pairings {
            if self.pairings.get(key) != Some(a) {
                out.push(Event::PairingAdded(a.clone()));
            }
        }
        out
    }
}

/// An inotify descriptor watching one directory for writes to the database's files.
struct Inotify {
    fd: OwnedFd,
    /// The database file's name: events for it and its `-wal`, `-shm`, `-journal`
    /// companions count.
    stem: Vec<u8>,
}

impl Inotify {
    fn new(db: &Path) -> std::io::Result<Inotify> {
        let dir = match db.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let stem = db
            .file_name()
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        let cdir = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: inotify_init1 takes flags only and returns a new descriptor or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor we just opened and own from here on.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mask = libc::IN_MODIFY
            | libc::IN_CLOSE_WRITE
            | libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_MOVED_TO;
        // SAFETY: `fd` is an inotify descriptor and `cdir` a NUL-terminated path that
        // outlives the call.
        let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), cdir.as_ptr(), mask) };
        if wd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Inotify { fd, stem })
    }

    /// Waits up to `timeout` for events, then reads every pending one; `true` when one
    /// of them concerns the database's files (or the queue overflowed).
    fn wait(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, and the count says one.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n <= 0 {
            return false;
        }
        let mut relevant = false;
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `buf` is writable for its whole length; the descriptor is
            // non-blocking, so this returns -1 with EAGAIN once the queue is empty.
            let got =
                unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(got) = usize::try_from(got) else { break };
            if got == 0 {
                break;
            }
            relevant |= self.scan(&buf[..got]);
        }
        relevant
    }

    /// Whether any event in `buf` (whole `inotify_event` records) names one of the
    /// database's files.
    fn scan(&self, buf: &[u8]) -> bool {
        let header = std::mem::size_of::<libc::inotify_event>();
        let mut off = 0;
        let mut relevant = false;
        while off + header <= buf.len() {
            // SAFETY: there are `header` bytes at `off`; read_unaligned copes with any
            // alignment.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
            let len = usize::try_from(ev.len).unwrap_or(0);
            let name_end = (off + header + len).min(buf.len());
            let name = &buf[off + header..name_end];
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            if ev.mask & libc::IN_Q_OVERFLOW != 0 || name.starts_with(&self.stem) {
                relevant = true;
            }
            off = name_end;
        }
        relevant
    }
}

fn thread(f: impl FnOnce() + Send + 'static) -> Result<std::thread::JoinHandle<()>, RegistryError> {
    std::thread::Builder::new()
        .name("vifkit-watch".into())
        .spawn(f)
        .map_err(|source| RegistryError::CreateDir {
            path: PathBuf::from(OsStr::new("(watcher thread)")),
            source,
        })
}

/// Starts the watcher thread: it reads the registry through `store` from `start` (read
/// at epoch `epoch`) on and sends each batch of changes on `tx`, until `tx`'s receiver
/// is dropped (noticed within [`TICK`]). Without inotify it says so on stderr and looks
/// every [`TICK`] only. On a shared registry, the registry's watch wakes it.
pub fn spawn(
    store: Arc<Store>,
    start: Snapshot,
    epoch: u64,
    cache: Arc<PairingCache>,
    tx: UnboundedSender<Vec<Event>>,
) -> Result<std::thread::JoinHandle<()>, RegistryError> {
    if let Some(reg) = store.shared_registry() {
        let feed = reg.watch()?;
        let shown = store.describe();
        return thread(move || run_shared(&store, feed, start, &cache, &tx, &shown));
    }
    let Some(db) = store.path().map(Path::to_owned) else {
        // A store is on a file or on a shared registry: not reached.
        return Err(RegistryError::EmptyPath);
    };
    let inotify = match Inotify::new(&db) {
        Ok(i) => Some(i),
        Err(e) => {
            super::warn(&format!(
                "Cannot watch {} with inotify ({e}); looking for changes every {} s",
                db.display(),
                TICK.as_secs()
            ));
            None
        }
    };
    let shown = db.display().to_string();
    thread(move || {
        run(
            &store,
            inotify.as_ref(),
            (start, epoch),
            &cache,
            &tx,
            &shown,
        )
    })
}

/// The registry again, with the epoch it was read in, if it moved since `last`
/// (another generation, or another file).
fn look(
    store: &Store,
    last: &Snapshot,
    last_epoch: u64,
) -> Result<Option<(Snapshot, u64)>, RegistryError> {
    let lease = store.lease(false)?;
    let reg = lease.registry();
    if lease.epoch() == last_epoch && reg.generation()? == last.generation {
        return Ok(None);
    }
    Ok(Some((Snapshot::read(reg)?, lease.epoch())))
}

fn run(
    store: &Store,
    inotify: Option<&Inotify>,
    start: (Snapshot, u64),
    cache: &PairingCache,
    tx: &UnboundedSender<Vec<Event>>,
    shown: &str,
) {
    let (mut last, mut last_epoch) = start;
    let mut failing = false;
    while !tx.is_closed() {
        match inotify {
            Some(i) => {
                i.wait(TICK);
            }
            None => std::thread::sleep(TICK),
        }
        match look(store, &last, last_epoch) {
            Ok(None) => failing = false,
            Ok(Some((now, epoch))) => {
                failing = false;
                let events = last.diff(&now);
                // The lookups see the new pairings before anyone hears of them. Another
                // file's generations say nothing about the last one's.
                if epoch == last_epoch {
                    cache.install(now.pairing_index());
                } else {
                    cache.replace(now.pairing_index());
                }
                last = now;
                last_epoch = epoch;
                if !events.is_empty() && tx.send(events).is_err() {
                    return;
                }
            }
            Err(e) => {
                if !failing {
                    super::warn(&format!("Watching {shown}: {}", super::error::chain(&e)));
                }
                failing = true;
            }
        }
    }
}

/// The watcher of a shared registry (see the module's documentation).
fn run_shared(
    store: &Store,
    mut feed: Box<dyn ChangeFeed>,
    start: Snapshot,
    cache: &PairingCache,
    tx: &UnboundedSender<Vec<Event>>,
    shown: &str,
) {
    let mut last = start;
    // The watch is down (said once), a read failed (said once), a read is owed.
    let (mut lost, mut failing, mut owed) = (false, false, false);
    let mut take = |n: Notice, owed: &mut bool| match n {
        Notice::Quiet => {}
        Notice::Changed => {
            if lost {
                super::warn(&format!(
                    "Watching {shown}: the watch is set up again; reading the registry whole"
                ));
                lost = false;
            }
            *owed = true;
        }
        Notice::Lost(why) => {
            if !lost {
                super::warn(&format!(
                    "Watching {shown}: {why}; setting it up again (no signals until then)"
                ));
            }
            lost = true;
        }
    };
    while !tx.is_closed() {
        // A failed read is tried again every TICK.
        let n = feed.wait(TICK);
        take(n, &mut owed);
        // Every change already queued is answered by the one read below.
        loop {
            let n = feed.wait(Duration::ZERO);
            let more = n == Notice::Changed;
            take(n, &mut owed);
            if !more {
                break;
            }
        }
        if !owed {
            continue;
        }
        let read = store
            .lease(false)
            .and_then(|lease| Snapshot::read(lease.registry()));
        match read {
            Ok(now) => {
                failing = false;
                owed = false;
                let events = last.diff(&now);
                // The lookups see the new pairings before anyone hears of them.
                cache.install(now.pairing_index());
                last = now;
                if !events.is_empty() && tx.send(events).is_err() {
                    return;
                }
            }
            Err(e) => {
                if !failing {
                    super::warn(&format!(
                        "Reading {shown} after a change: {}; trying again every {} s",
                        super::error::chain(&e),
                        TICK.as_secs()
                    ));
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::{BridgeKind, DomainName, SqliteRegistry};
    use translator::IfName;

    fn bridge(name: &str) -> Bridge {
        Bridge::new(IfName::new(name).unwrap(), BridgeKind::Linux)
    }

    fn nic(domid: u32, mac: &str) -> Attachment {
        Attachment::xen(
            DomainName::new("g").unwrap(),
            domid,
            0,
            mac.parse().unwrap(),
            IfName::new("br0").unwrap(),
            false,
        )
        .unwrap()
    }

    #[test]
    fn diff_names_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteRegistry::open(dir.path().join("r.db")).unwrap();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.add_bridge(&bridge("br1")).unwrap();
        reg.record(&nic(1, "00:16:3e:00:00:01")).unwrap();
        reg.record(&nic(2, "00:16:3e:00:00:02")).unwrap();
        let before = Snapshot::read(&reg).unwrap();
        let mut b0 = bridge("br0");
        b0.stp = true;
        reg.update_bridge(&b0).unwrap();
        reg.remove_bridge(&IfName::new("br1").unwrap()).unwrap();
        reg.add_bridge(&bridge("br2")).unwrap();
        reg.remove_attachment(Driver::Xen, 1, 0).unwrap();
        reg.record(&nic(2, "00:16:3e:00:00:22")).unwrap();
        reg.record(&nic(3, "00:16:3e:00:00:03")).unwrap();
        let after = Snapshot::read(&reg).unwrap();
        assert!(after.generation > before.generation);
        let ev = before.diff(&after);
        assert_eq!(
            ev,
            vec![
                Event::BridgeChanged("br0".into()),
                Event::BridgeAdded("br2".into()),
                Event::BridgeRemoved("br1".into()),
                Event::PairingRemoved(nic(1, "00:16:3e:00:00:01")),
                Event::PairingRemoved(nic(2, "00:16:3e:00:00:02")),
                Event::PairingAdded(nic(2, "00:16:3e:00:00:22")),
                Event::PairingAdded(nic(3, "00:16:3e:00:00:03")),
            ]
        );
        assert!(after.diff(&after).is_empty());
    }

    #[test]
    fn watcher_sends_a_write_by_another_connection() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("r.db");
        let reg = SqliteRegistry::open(&db).unwrap();
        let start = Snapshot::read(&reg).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let cache = Arc::new(PairingCache::default());
        let store = Store::open(&db, Duration::from_secs(1)).unwrap();
        let handle = spawn(store, start, 0, Arc::clone(&cache), tx).unwrap();
        reg.add_bridge(&bridge("br7")).unwrap();
        let got = rx.blocking_recv().unwrap();
        assert_eq!(got, vec![Event::BridgeAdded("br7".into())]);
        // A pairing: in the cache by the time its signal is sent.
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.record(&nic(4, "00:16:3e:00:00:04")).unwrap();
        loop {
            let got = rx.blocking_recv().unwrap();
            if got
                .iter()
                .any(|e| matches!(e, Event::PairingAdded(a) if a.domid == 4))
            {
                break;
            }
        }
        assert!(cache.get().by_id(Driver::Xen, 4, 0).is_some());
        drop(rx);
        handle.join().unwrap();
    }
}
