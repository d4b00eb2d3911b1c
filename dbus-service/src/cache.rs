//! The pairings as the service last read them, indexed for `Pairings1`'s lookups.
//!
//! `Pairings1` answers from memory: no registry read, no hop to the blocking pool, per
//! call. The watcher installs each new snapshot before it sends that snapshot's signals,
//! so a client that saw `PairingAdded` finds the pairing; a write by another process is
//! seen as soon as the watcher wakes for it (inotify, or an etcd watch), as its signal
//! is.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use translator::{IfName, MacAddr};

use registry::{Attachment, Driver};

/// A pairing's key: driver, domain id, device id.
type Key = (Driver, u32, u32);

/// The pairings of one registry generation, by id, device name and MAC.
#[derive(Debug, Default)]
pub struct PairingIndex {
    generation: u64,
    by_id: BTreeMap<Key, Attachment>,
    by_device: HashMap<IfName, Key>,
    by_mac: HashMap<MacAddr, Key>,
}

impl PairingIndex {
    /// Indexes `pairings`, read at registry generation `generation`.
    pub fn new<'a>(generation: u64, pairings: impl IntoIterator<Item = &'a Attachment>) -> Self {
        let mut index = PairingIndex {
            generation,
            ..PairingIndex::default()
        };
        for a in pairings {
            let key = (a.driver, a.domid, a.devid);
            for dev in a.devices() {
                index.by_device.insert(dev.clone(), key);
            }
            index.by_mac.insert(a.mac, key);
            index.by_id.insert(key, a.clone());
        }
        index
    }

    /// Every pairing, by driver (Xen's first), domain id then device id.
    pub fn all(&self) -> impl Iterator<Item = &Attachment> {
        self.by_id.values()
    }

    /// The pairing of `(driver, domid, devid)`.
    pub fn by_id(&self, driver: Driver, domid: u32, devid: u32) -> Option<&Attachment> {
        self.by_id.get(&(driver, domid, devid))
    }

    /// The pairing whose backend or emulated twin is `dev`.
    pub fn by_device(&self, dev: &IfName) -> Option<&Attachment> {
        self.by_device.get(dev).and_then(|k| self.by_id.get(k))
    }

    /// The pairing with this MAC.
    pub fn by_mac(&self, mac: MacAddr) -> Option<&Attachment> {
        self.by_mac.get(&mac).and_then(|k| self.by_id.get(k))
    }
}

/// The current [`PairingIndex`], shared by the interface and the watcher.
#[derive(Debug, Default)]
pub struct PairingCache(RwLock<Arc<PairingIndex>>);

impl PairingCache {
    /// The current index (a cheap handle; the lock is held only to clone it).
    pub fn get(&self) -> Arc<PairingIndex> {
        Arc::clone(&self.0.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Installs `index` whatever the generation the cache holds: the registry file was
    /// replaced, and the new file's generations say nothing about the old one's.
    pub fn replace(&self, index: PairingIndex) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(index);
    }

    /// Installs `index` unless the cache already holds a later generation.
    pub fn install(&self, index: PairingIndex) {
        let mut cur = self.0.write().unwrap_or_else(|p| p.into_inner());
        if index.generation >= cur.generation {
            *cur = Arc::new(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::DomainName;

    fn nic(domid: u32, mac: &str, emulated: bool) -> Attachment {
        Attachment::xen(
            DomainName::new("g").unwrap(),
            domid,
            0,
            mac.parse().unwrap(),
            IfName::new("br0").unwrap(),
            emulated,
        )
        .unwrap()
    }

    #[test]
    fn lookups_find_each_way_and_older_generations_never_win() {
        let a = nic(5, "00:16:3e:00:00:05", true);
        let b = nic(6, "00:16:3e:00:00:06", false);
        let cache = PairingCache::default();
        cache.install(PairingIndex::new(3, [&a, &b]));
        let ix = cache.get();
        assert_eq!(ix.by_id(Driver::Xen, 5, 0), Some(&a));
        assert_eq!(ix.by_id(Driver::Qemu, 5, 0), None);
        assert_eq!(ix.by_device(&IfName::new("vif5.0-emu").unwrap()), Some(&a));
        assert_eq!(ix.by_mac("00:16:3e:00:00:06".parse().unwrap()), Some(&b));
        assert_eq!(ix.by_id(Driver::Xen, 7, 0), None);
        assert_eq!(ix.all().count(), 2);
        cache.install(PairingIndex::new(2, [&a]));
        assert_eq!(
            cache.get().all().count(),
            2,
            "an older read replaced a newer one"
        );
        cache.install(PairingIndex::new(4, [&a]));
        assert_eq!(cache.get().all().count(), 1);
    }
}
