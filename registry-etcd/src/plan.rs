//! The NIC side of a write: which keys a set of removed and recorded NICs touch (the NIC
//! record, its device names, its MAC, its bridge's user key), the checks (a MAC or a
//! device name held by another NIC, a bridge not in the registry) and the operations.

use std::collections::BTreeMap;

use etcd_client::{Client, TxnOp};
use registry::{Attachment, Owner, RegistryError};

use crate::{EtcdRegistry, Fail, MacOwner, Snap, Write};

fn same_nic(o: &Owner, a: &Attachment) -> bool {
    o.driver == a.driver && o.domid == a.domid && o.devid == a.devid
}

impl EtcdRegistry {
    /// The keys a NIC's record touches besides its own.
    pub(crate) fn derived_keys(&self, a: &Attachment) -> Vec<String> {
        let k = &self.keys;
        let mut v = vec![
            k.mac(a.mac),
            k.user(&a.bridge, a.driver, a.domid, a.devid),
            k.bridge(&a.bridge),
            k.nic(a.driver, a.domid, a.devid),
        ];
        v.extend(a.devices().map(|d| k.device(d)));
        v
    }

    /// Reads what removing `removed` and recording `put` needs, plans it over the read,
    /// and commits it with `extra`. Whether it committed (`false`: something read
    /// changed meanwhile; try again).
    pub(crate) async fn nic_txn(
        &self,
        c: Client,
        snap: &mut Snap,
        removed: &[Attachment],
        put: &[&Attachment],
        mut extra: Write,
    ) -> Result<bool, Fail> {
        let mut keys: Vec<String> = Vec::new();
        for a in removed.iter().chain(put.iter().copied()) {
            keys.extend(self.derived_keys(a));
        }
        if !put.is_empty() {
            keys.push(self.keys.lease());
        }
        Self::read(c.clone(), snap, &keys, &[]).await?;
        let (ops, changed) = self.plan(snap, removed, put)?;
        extra.counts |= changed;
        extra.ops.extend(ops);
        self.commit(c, snap, extra).await
    }

    /// The operations that remove `removed` and record `put`, checked against `snap`;
    /// and whether they change anything.
    fn plan(
        &self,
        snap: &Snap,
        removed: &[Attachment],
        put: &[&Attachment],
    ) -> Result<(Vec<TxnOp>, bool), RegistryError> {
        let k = &self.keys;
        let host = &self.cfg.host;
        let mut fin: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
        let now = |fin: &BTreeMap<String, Option<Vec<u8>>>, key: &str| -> Option<Vec<u8>> {
            match fin.get(key) {
                Some(v) => v.clone(),
                None => snap.get(key).map(<[u8]>::to_vec),
            }
        };
        for old in removed {
            fin.insert(k.nic(old.driver, old.domid, old.devid), None);
            fin.insert(k.user(&old.bridge, old.driver, old.domid, old.devid), None);
            for d in old.devices() {
                let key = k.device(d);
                if let Some(v) = now(&fin, &key) {
                    if serde_json::from_slice::<Owner>(&v).is_ok_and(|o| same_nic(&o, old)) {
                        fin.insert(key, None);
                    }
                }
            }
            let key = k.mac(old.mac);
            if let Some(v) = now(&fin, &key) {
                // A MAC another host took over (a migrated guest) stays that host's.
                if serde_json::from_slice::<MacOwner>(&v)
                    .is_ok_and(|o| &o.host == host && same_nic(&o.owner, old))
                {
                    fin.insert(key, None);
                }
            }
        }
        let lease = match put.is_empty() {
            true => 0,
            false => self.lease_in(snap)?,
        };
        for a in put {
            if snap.get(&k.bridge(&a.bridge)).is_none() {
                return Err(RegistryError::UnknownBridge(a.bridge.clone()));
            }
            let uuid = a.domain_uuid.map(|u| u.to_string());
            let key = k.mac(a.mac);
            if let Some(v) = now(&fin, &key) {
                let o: MacOwner = self.decode(&key, &v)?;
                let mine = &o.host == host && same_nic(&o.owner, a);
                let migrating = &o.host != host && uuid.is_some() && o.domain_uuid == uuid;
                if !mine && !migrating {
                    return Err(match &o.host == host {
                        true => RegistryError::MacClash {
                            mac: a.mac,
                            owner: o.owner,
                        },
                        false => RegistryError::MacClashOnHost {
                            mac: a.mac,
                            owner: o.owner,
                            host: o.host,
                        },
                    });
                }
            }
            let owner = MacOwner {
                host: host.clone(),
                owner: a.owner(),
                domain_uuid: uuid,
            };
            fin.insert(key, Some(self.encode(&owner)));
            for d in a.devices() {
                let key = k.device(d);
                if let Some(v) = now(&fin, &key) {
                    let o: Owner = self.decode(&key, &v)?;
                    if !same_nic(&o, a) {
                        return Err(RegistryError::NameClash {
                            name: d.clone(),
                            owner: o,
                        });
                    }
                }
                fin.insert(key, Some(self.encode(&a.owner())));
            }
            fin.insert(
                k.user(&a.bridge, a.driver, a.domid, a.devid),
                Some(self.encode(&a.owner())),
            );
            fin.insert(k.nic(a.driver, a.domid, a.devid), Some(self.encode(*a)));
        }
        let mut ops = Vec::new();
        for (key, v) in fin {
            let cur = snap.get(&key);
            match v {
                None if cur.is_some() => ops.push(TxnOp::delete(key, None)),
                Some(v) if cur != Some(v.as_slice()) => {
                    ops.push(Self::put_leased(key, v, lease));
                }
                _ => {}
            }
        }
        let changed = !ops.is_empty();
        Ok((ops, changed))
    }
}
