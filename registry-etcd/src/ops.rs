//! [`Registry`] on etcd: each call one read and one conditional transaction (tried again
//! when a key it checked changed meanwhile).

use etcd_client::TxnOp;
use registry::{
    Attachment, AttachmentState, Bridge, DomainKey, DomainName, Driver, Mtu, Recorded, Registry,
    RegistryError,
};
use translator::{IfName, MacAddr};

use crate::{BridgeOverride, EtcdRegistry, Snap, Write};

impl EtcdRegistry {
    fn read_once(
        &self,
        op: &'static str,
        keys: Vec<String>,
        prefixes: Vec<String>,
    ) -> Result<Snap, RegistryError> {
        self.run(op, |c| {
            let (keys, prefixes) = (keys.clone(), prefixes.clone());
            async move {
                let mut snap = Snap::default();
                Self::read(c, &mut snap, &keys, &prefixes).await?;
                Ok(Some(snap))
            }
        })
    }

    fn attachment_at(&self, snap: &Snap, key: &str) -> Result<Option<Attachment>, RegistryError> {
        snap.get(key).map(|v| self.decode(key, v)).transpose()
    }

    fn attachments_under(
        &self,
        snap: &Snap,
        prefix: &str,
    ) -> Result<Vec<Attachment>, RegistryError> {
        let mut v: Vec<Attachment> = snap
            .under(prefix)
            .map(|(k, v)| self.decode(k, v))
            .collect::<Result<_, _>>()?;
        v.sort_by_key(|a| (a.driver, a.domid, a.devid));
        Ok(v)
    }

    /// The shared definition with this host's override.
    fn merged(&self, snap: &Snap, name: &IfName) -> Result<Option<Bridge>, RegistryError> {
        let key = self.keys.bridge(name);
        let Some(v) = snap.get(&key) else {
            return Ok(None);
        };
        let mut b: Bridge = self.decode(&key, v)?;
        let okey = self.keys.override_here(name);
        if let Some(v) = snap.get(&okey) {
            let o: BridgeOverride = self.decode(&okey, v)?;
            let bad = |reason: String| RegistryError::BadValue {
                store: self.store(),
                key: okey.clone(),
                reason,
            };
            if let Some(u) = o.uplink {
                b.uplink = Some(IfName::try_from(u.as_str()).map_err(|e| bad(e.to_string()))?);
            }
            if let Some(m) = o.mtu {
                b.mtu = Some(Mtu::new(m).map_err(|e| bad(e.to_string()))?);
            }
        }
        Ok(Some(b))
    }

    fn shared_bridges(&self, snap: &Snap) -> Result<Vec<Bridge>, RegistryError> {
        snap.under(&self.keys.bridges())
            .map(|(k, v)| self.decode(k, v))
            .collect()
    }

    /// `add_bridge` and `update_bridge`.
    fn put_bridge(&self, bridge: &Bridge, insert: bool) -> Result<(), RegistryError> {
        bridge.validate()?;
        let op = if insert {
            "adding a bridge"
        } else {
            "updating a bridge"
        };
        let key = self.keys.bridge(&bridge.name);
        let value = self.encode(bridge);
        self.run(op, |c| {
            let (key, value) = (key.clone(), value.clone());
            async move {
                let mut snap = Snap::default();
                Self::read(c.clone(), &mut snap, &[], &[self.keys.bridges()]).await?;
                snap.seen.entry(key.clone()).or_insert(0);
                let all = self.shared_bridges(&snap)?;
                let old = all.iter().find(|b| b.name == bridge.name);
                match (old, insert) {
                    (Some(_), true) => {
                        return Err(RegistryError::BridgeExists(bridge.name.clone()).into())
                    }
                    (None, false) => {
                        return Err(RegistryError::UnknownBridge(bridge.name.clone()).into())
                    }
                    (Some(o), false) if o == bridge => return Ok(Some(())),
                    _ => {}
                }
                check_uplink(bridge, &all)?;
                let w = Write {
                    ops: vec![TxnOp::put(key, value, None)],
                    counts: true,
                };
                Ok(self.commit(c, &snap, w).await?.then_some(()))
            }
        })
    }
}

/// The checks `add_bridge` and `update_bridge` share, against every other bridge.
fn check_uplink(bridge: &Bridge, all: &[Bridge]) -> Result<(), RegistryError> {
    let others = all.iter().filter(|b| b.name != bridge.name);
    if let Some(device) = bridge.uplink_device()? {
        for o in others.clone() {
            if o.uplink_device().ok().flatten().as_ref() == Some(&device) {
                return Err(RegistryError::UplinkInUse {
                    bridge: bridge.name.clone(),
                    device,
                    other: o.name.clone(),
                });
            }
        }
        if let Some(o) = others.clone().find(|o| o.name == device) {
            return Err(RegistryError::UplinkIsABridge {
                bridge: bridge.name.clone(),
                other: o.name.clone(),
            });
        }
    }
    for o in others {
        if o.uplink_device().ok().flatten().as_ref() == Some(&bridge.name) {
            return Err(RegistryError::UplinkIsABridge {
                bridge: bridge.name.clone(),
                other: o.name.clone(),
            });
        }
    }
    Ok(())
}

fn matches_key(a: &Attachment, key: &DomainKey) -> bool {
    match key {
        DomainKey::Id(id) => a.domid == *id,
        DomainKey::Name(n) => &a.domain_name == n,
        DomainKey::Uuid(u) => a.domain_uuid.as_ref() == Some(u),
    }
}

impl Registry for EtcdRegistry {
    fn add_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError> {
        self.put_bridge(bridge, true)
    }

    fn update_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError> {
        self.put_bridge(bridge, false)
    }

    fn remove_bridge(&self, name: &IfName) -> Result<Bridge, RegistryError> {
        let key = self.keys.bridge(name);
        let users = self.keys.users_of(name);
        self.run("removing a bridge", |c| {
            let (key, users) = (key.clone(), users.clone());
            async move {
                let mut snap = Snap::default();
                Self::read(
                    c.clone(),
                    &mut snap,
                    std::slice::from_ref(&key),
                    std::slice::from_ref(&users),
                )
                .await?;
                let Some(v) = snap.get(&key) else {
                    return Err(RegistryError::UnknownBridge(name.clone()).into());
                };
                let old: Bridge = self.decode(&key, v)?;
                let mut owners: Vec<registry::Owner> = snap
                    .under(&users)
                    .map(|(k, v)| self.decode(k, v))
                    .collect::<Result<_, _>>()?;
                owners.sort_by_key(|o| (o.driver, o.domid, o.devid));
                if let Some(first) = owners.first() {
                    return Err(RegistryError::BridgeInUse {
                        bridge: name.clone(),
                        count: owners.len() as u64,
                        first: first.clone(),
                    }
                    .into());
                }
                let del = |p: String| {
                    TxnOp::delete(p, Some(etcd_client::DeleteOptions::new().with_prefix()))
                };
                let ops = vec![
                    TxnOp::delete(key, None),
                    del(self.keys.claims_of(name)),
                    del(self.keys.made_of(name)),
                    del(self.keys.overrides_of(name)),
                ];
                let w = Write { ops, counts: true };
                Ok(self.commit(c, &snap, w).await?.then_some(old))
            }
        })
    }

    fn bridge(&self, name: &IfName) -> Result<Option<Bridge>, RegistryError> {
        let snap = self.read_once(
            "reading a bridge",
            vec![self.keys.bridge(name), self.keys.override_here(name)],
            vec![],
        )?;
        self.merged(&snap, name)
    }

    fn bridges(&self) -> Result<Vec<Bridge>, RegistryError> {
        let snap = self.read_once(
            "reading the bridges",
            vec![],
            vec![self.keys.bridges(), self.keys.overrides()],
        )?;
        let names: Vec<IfName> = self
            .shared_bridges(&snap)?
            .into_iter()
            .map(|b| b.name)
            .collect();
        let mut out = Vec::with_capacity(names.len());
        for n in &names {
            out.extend(self.merged(&snap, n)?);
        }
        out.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        Ok(out)
    }

    fn set_bridge_made(&self, name: &IfName, made: bool) -> Result<(), RegistryError> {
        let key = self.keys.bridge(name);
        let mkey = self.keys.made(name);
        self.run("marking a bridge made", |c| {
            let (key, mkey) = (key.clone(), mkey.clone());
            async move {
                let mut snap = Snap::default();
                Self::read(c.clone(), &mut snap, &[key.clone(), mkey.clone()], &[]).await?;
                if snap.get(&key).is_none() {
                    return Err(RegistryError::UnknownBridge(name.clone()).into());
                }
                if snap.get(&mkey).is_some() == made {
                    return Ok(Some(()));
                }
                let op = match made {
                    true => TxnOp::put(mkey, "", None),
                    false => TxnOp::delete(mkey, None),
                };
                let w = Write {
                    ops: vec![op],
                    counts: true,
                };
                Ok(self.commit(c, &snap, w).await?.then_some(()))
            }
        })
    }

    fn bridge_made(&self, name: &IfName) -> Result<bool, RegistryError> {
        let key = self.keys.made(name);
        let snap = self.read_once("reading a bridge's mark", vec![key.clone()], vec![])?;
        Ok(snap.get(&key).is_some())
    }

    fn claim_bridges(
        &self,
        driver: Driver,
        domain: &DomainName,
        bridges: &[IfName],
    ) -> Result<(), RegistryError> {
        let ckey = self.keys.claimed(driver, domain);
        self.run("claiming bridges", |c| {
            let ckey = ckey.clone();
            async move {
                let mut snap = Snap::default();
                let mut keys = vec![ckey.clone(), self.keys.lease()];
                keys.extend(bridges.iter().map(|b| self.keys.bridge(b)));
                Self::read(c.clone(), &mut snap, &keys, &[]).await?;
                let old: Vec<IfName> = match snap.get(&ckey) {
                    Some(v) => names_of(self.decode(&ckey, v)?),
                    None => Vec::new(),
                };
                let mut new: Vec<IfName> = bridges
                    .iter()
                    .filter(|b| snap.get(&self.keys.bridge(b)).is_some())
                    .cloned()
                    .collect();
                new.sort();
                new.dedup();
                let mut ops = Vec::new();
                for b in old.iter().filter(|b| !new.contains(b)) {
                    ops.push(TxnOp::delete(self.keys.claim(b, driver, domain), None));
                }
                if new.is_empty() {
                    if snap.get(&ckey).is_some() {
                        ops.push(TxnOp::delete(ckey, None));
                    }
                } else {
                    let lease = self.lease_in(&snap)?;
                    for b in &new {
                        ops.push(Self::put_leased(
                            self.keys.claim(b, driver, domain),
                            Vec::new(),
                            lease,
                        ));
                    }
                    let list: Vec<&str> = new.iter().map(|b| b.as_str()).collect();
                    ops.push(Self::put_leased(ckey, self.encode(&list), lease));
                }
                Ok(self
                    .commit(c, &snap, Write { ops, counts: false })
                    .await?
                    .then_some(()))
            }
        })
    }

    fn release_claims(&self, driver: Driver, domain: &DomainName) -> Result<(), RegistryError> {
        let ckey = self.keys.claimed(driver, domain);
        self.run("releasing claims", |c| {
            let ckey = ckey.clone();
            async move {
                let mut snap = Snap::default();
                Self::read(c.clone(), &mut snap, std::slice::from_ref(&ckey), &[]).await?;
                let w = self.release_ops(&snap, &[(driver, domain.clone())]);
                Ok(self.commit(c, &snap, w).await?.then_some(()))
            }
        })
    }

    fn bridge_claims(&self, bridge: &IfName) -> Result<Vec<(Driver, DomainName)>, RegistryError> {
        let prefix = self.keys.claims_here(bridge);
        let snap = self.read_once("reading bridge claims", vec![], vec![prefix.clone()])?;
        let mut out = Vec::new();
        for (k, _) in snap.under(&prefix) {
            let rest = &k[prefix.len()..];
            let parsed = rest
                .split_once('/')
                .and_then(|(d, n)| Some((d.parse::<Driver>().ok()?, DomainName::new(n).ok()?)));
            match parsed {
                Some(p) => out.push(p),
                None => {
                    return Err(RegistryError::BadValue {
                        store: self.store(),
                        key: translator::diag::one_line(k),
                        reason: "not a claim key (DRIVER/DOMAIN)".into(),
                    })
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn record(&self, attachment: &Attachment) -> Result<Recorded, RegistryError> {
        attachment.validate()?;
        let a = attachment;
        let nkey = self.keys.nic(a.driver, a.domid, a.devid);
        self.run("recording a NIC", |c| {
            let nkey = nkey.clone();
            async move {
                let mut snap = Snap::default();
                let mut keys = self.derived_keys(a);
                keys.push(self.keys.lease());
                Self::read(c.clone(), &mut snap, &keys, &[]).await?;
                let old = match self.attachment_at(&snap, &nkey) {
                    Ok(o) => o,
                    Err(RegistryError::BadValue { .. }) => None,
                    Err(e) => return Err(e.into()),
                };
                let recorded = match &old {
                    Some(o) if o == a => return Ok(Some(Recorded::Unchanged)),
                    Some(_) => Recorded::Updated,
                    None if snap.get(&nkey).is_some() => Recorded::Updated,
                    None => Recorded::Inserted,
                };
                let removed: Vec<Attachment> = old.into_iter().collect();
                let done = self
                    .nic_txn(c, &mut snap, &removed, &[a], Write::default())
                    .await?;
                Ok(done.then_some(recorded))
            }
        })
    }

    fn set_state(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
        state: AttachmentState,
    ) -> Result<(), RegistryError> {
        let nkey = self.keys.nic(driver, domid, devid);
        self.run("setting a NIC's state", |c| {
            let nkey = nkey.clone();
            async move {
                let mut snap = Snap::default();
                Self::read(c.clone(), &mut snap, std::slice::from_ref(&nkey), &[]).await?;
                let Some(old) = self.attachment_at(&snap, &nkey)? else {
                    return Err(RegistryError::UnknownAttachment {
                        driver,
                        domid,
                        devid,
                    }
                    .into());
                };
                if old.state == state {
                    return Ok(Some(()));
                }
                let mut new = old.clone();
                new.state = state;
                let done = self
                    .nic_txn(c, &mut snap, &[old], &[&new], Write::default())
                    .await?;
                Ok(done.then_some(()))
            }
        })
    }

    fn remove_attachment(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        let nkey = self.keys.nic(driver, domid, devid);
        self.run("removing a NIC", |c| {
            let nkey = nkey.clone();
            async move {
                let mut snap = Snap::default();
                Self::read(c.clone(), &mut snap, std::slice::from_ref(&nkey), &[]).await?;
                let Some(old) = self.attachment_at(&snap, &nkey)? else {
                    return Ok(Some(None));
                };
                let removed = [old];
                let done = self
                    .nic_txn(c, &mut snap, &removed, &[], Write::default())
                    .await?;
                let [old] = removed;
                Ok(done.then_some(Some(old)))
            }
        })
    }

    fn remove_if_unchanged(&self, attachment: &Attachment) -> Result<bool, RegistryError> {
        let a = attachment;
        let nkey = self.keys.nic(a.driver, a.domid, a.devid);
        self.run("removing a stale NIC", |c| {
            let nkey = nkey.clone();
            async move {
                let mut snap = Snap::default();
                Self::read(c.clone(), &mut snap, std::slice::from_ref(&nkey), &[]).await?;
                match self.attachment_at(&snap, &nkey) {
                    Ok(Some(now)) if now == *a => {}
                    Ok(_) | Err(RegistryError::BadValue { .. }) => return Ok(Some(false)),
                    Err(e) => return Err(e.into()),
                }
                let done = self
                    .nic_txn(c, &mut snap, std::slice::from_ref(a), &[], Write::default())
                    .await?;
                Ok(done.then_some(true))
            }
        })
    }

    fn remove_domain(
        &self,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError> {
        let prefix = match domain {
            DomainKey::Id(id) => self.keys.nics_of_domain(driver, *id),
            _ => self.keys.nics_of_driver(driver),
        };
        self.run("removing a domain's NICs", |c| {
            let prefix = prefix.clone();
            async move {
                let mut snap = Snap::default();
                Self::read(c.clone(), &mut snap, &[], std::slice::from_ref(&prefix)).await?;
                let old: Vec<Attachment> = self
                    .attachments_under(&snap, &prefix)?
                    .into_iter()
                    .filter(|a| matches_key(a, domain))
                    .collect();
                if old.is_empty() {
                    return Ok(Some(old));
                }
                let done = self
                    .nic_txn(c, &mut snap, &old, &[], Write::default())
                    .await?;
                Ok(done.then_some(old))
            }
        })
    }

    fn replace_domain(
        &self,
        driver: Driver,
        domid: u32,
        attachments: &[Attachment],
    ) -> Result<Vec<Attachment>, RegistryError> {
        let new = registry::check_replacement(driver, domid, attachments)?;
        let prefix = self.keys.nics_of_domain(driver, domid);
        let mut names: Vec<(Driver, DomainName)> = new
            .iter()
            .map(|a| (driver, a.domain_name.clone()))
            .collect();
        names.sort();
        names.dedup();
        self.run("replacing a domain's NICs", |c| {
            let prefix = prefix.clone();
            let (new, names) = (&new, &names);
            async move {
                let mut snap = Snap::default();
                let mut keys: Vec<String> = names
                    .iter()
                    .map(|(d, n)| self.keys.claimed(*d, n))
                    .collect();
                for a in new {
                    keys.extend(self.derived_keys(a));
                }
                if !new.is_empty() {
                    keys.push(self.keys.lease());
                }
                Self::read(c.clone(), &mut snap, &keys, std::slice::from_ref(&prefix)).await?;
                let old = self.attachments_under(&snap, &prefix)?;
                let release = self.release_ops(&snap, names);
                if old.len() == new.len() && old.iter().zip(new.iter()).all(|(o, n)| o == *n) {
                    return Ok(self.commit(c, &snap, release).await?.then(Vec::new));
                }
                let done = self.nic_txn(c, &mut snap, &old, new, release).await?;
                Ok(done.then(|| {
                    old.into_iter()
                        .filter(|o| new.binary_search_by_key(&o.devid, |n| n.devid).is_err())
                        .collect()
                }))
            }
        })
    }

    fn attachment(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        let key = self.keys.nic(driver, domid, devid);
        let snap = self.read_once("reading a NIC", vec![key.clone()], vec![])?;
        self.attachment_at(&snap, &key)
    }

    fn attachment_by_device(&self, device: &IfName) -> Result<Option<Attachment>, RegistryError> {
        let key = self.keys.device(device);
        let snap = self.read_once("reading a device's NIC", vec![key.clone()], vec![])?;
        let Some(v) = snap.get(&key) else {
            return Ok(None);
        };
        let o: registry::Owner = self.decode(&key, v)?;
        self.attachment(o.driver, o.domid, o.devid)
    }

    fn attachment_by_mac(&self, mac: MacAddr) -> Result<Option<Attachment>, RegistryError> {
        match self.mac_owner(mac)? {
            Some(o) if o.host == self.cfg.host => {
                let a = self.attachment(o.owner.driver, o.owner.domid, o.owner.devid)?;
                Ok(a.filter(|a| a.mac == mac))
            }
            _ => Ok(None),
        }
    }

    fn attachments(&self) -> Result<Vec<Attachment>, RegistryError> {
        let prefix = self.keys.nics();
        let snap = self.read_once("reading the NICs", vec![], vec![prefix.clone()])?;
        self.attachments_under(&snap, &prefix)
    }

    fn domain_attachments(
        &self,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError> {
        let prefix = match domain {
            DomainKey::Id(id) => self.keys.nics_of_domain(driver, *id),
            _ => self.keys.nics_of_driver(driver),
        };
        let snap = self.read_once("reading a domain's NICs", vec![], vec![prefix.clone()])?;
        Ok(self
            .attachments_under(&snap, &prefix)?
            .into_iter()
            .filter(|a| matches_key(a, domain))
            .collect())
    }

    fn generation(&self) -> Result<u64, RegistryError> {
        let key = self.keys.generation();
        let snap = self.read_once("reading the generation", vec![key.clone()], vec![])?;
        Ok(snap
            .kvs
            .get(&key)
            .map_or(0, |(_, rev)| u64::try_from(*rev).unwrap_or(0)))
    }
}

impl EtcdRegistry {
    /// Deletes the claims of `guests` (their `claimed` keys were read into `snap`).
    fn release_ops(&self, snap: &Snap, guests: &[(Driver, DomainName)]) -> Write {
        let mut ops = Vec::new();
        for (d, n) in guests {
            let ckey = self.keys.claimed(*d, n);
            let Some(v) = snap.get(&ckey) else { continue };
            let old = names_of(serde_json::from_slice(v).unwrap_or_default());
            for b in &old {
                ops.push(TxnOp::delete(self.keys.claim(b, *d, n), None));
            }
            ops.push(TxnOp::delete(ckey, None));
        }
        Write { ops, counts: false }
    }
}

/// The interface names of a stored list; any that is not one is skipped.
fn names_of(list: Vec<String>) -> Vec<IfName> {
    list.iter()
        .filter_map(|s| IfName::try_from(s.as_str()).ok())
        .collect()
}
