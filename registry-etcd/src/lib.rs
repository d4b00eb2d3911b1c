//! vifkit's registry on etcd (v3 API): one registry shared by every host of a fleet,
//! behind the same [`Registry`] trait as the host-local SQLite one.
//!
//! What is fleet-wide and what is a host's: bridge definitions are shared (with
//! per-host [`BridgeOverride`]s, such as the uplink's name); a MAC is owned fleet-wide
//! (`macs/MAC`, claimed in the same transaction as the NIC record that uses it); a
//! host's NIC records, device names and bridge claims live under its host id and are
//! tied to the host's lease, which `vifkit fleet keepalive` keeps alive (see
//! [`EtcdRegistry::keep_alive`]): when a host dies, its claims expire with its lease.
//! The key layout is in [`keys`](crate) and docs/fleet.md.
//!
//! Every change is one etcd transaction: the registry reads what it checks, then
//! commits only if none of those keys changed meanwhile (their revisions are compared),
//! and tries again otherwise. Each call is bounded by [`EtcdConfig::timeout`]: an
//! unreachable cluster, or one without a quorum, gives
//! [`RegistryError::Unreachable`] within that time.
//!
//! etcd's client is asynchronous (tokio, tonic); this crate owns a small
//! current-thread runtime and offers a blocking registry, so nothing above it needs an
//! async runtime.

mod keys;
mod ops;
mod plan;
#[cfg(feature = "test-support")]
pub mod testcluster;
mod watch;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, KeyValue,
    PutOptions, TlsOptions, Txn, TxnOp, TxnOpResponse,
};
use registry::{Owner, RegistryError};
use serde::{Deserialize, Serialize};

pub use registry::Registry;
pub use watch::ChangeWatch;

use keys::Keys;

/// The prefix of every key, with the layout's version.
pub const DEFAULT_PREFIX: &str = "/vifkit/v1/";
/// How long one registry call may take, retries included, unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// A host lease's time to live unless configured: a dead host's claims are gone this
/// long after its last keepalive.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);
/// How many times a transaction whose checked keys changed under it is tried.
const ATTEMPTS: u32 = 50;

/// TLS files for the client (PEM).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that signed the members' certificates.
    pub ca: Option<PathBuf>,
    /// This client's certificate.
    pub cert: Option<PathBuf>,
    /// This client's key.
    pub key: Option<PathBuf>,
}

/// How to reach the cluster, and who this host is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// The members, `HOST:PORT` each.
    pub endpoints: Vec<String>,
    /// TLS: `Some` makes every endpoint `https://`.
    pub tls: Option<TlsFiles>,
    /// The most one registry call may take, retries included.
    pub timeout: Duration,
    /// This host's id in the fleet.
    pub host: String,
    /// The prefix of every key ([`DEFAULT_PREFIX`]).
    pub prefix: String,
    /// The host lease's time to live.
    pub lease_ttl: Duration,
}

impl EtcdConfig {
    /// The members of an `etcd://H1:P1,H2:P2` (or `etcds://`, TLS) URL, checked: each
    /// `HOST:PORT`, no path, no user.
    pub fn parse_url(url: &str) -> Result<(Vec<String>, bool), String> {
        let (rest, tls) = if let Some(r) = url.strip_prefix("etcd://") {
            (r, false)
        } else if let Some(r) = url.strip_prefix("etcds://") {
            (r, true)
        } else {
            return Err(format!("{url:?} is not an etcd:// URL"));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err(format!(
                "{url:?}: no member (expected etcd://HOST:PORT,...)"
            ));
        }
        let mut out = Vec::new();
        for m in rest.split(',') {
            let ok = m.rsplit_once(':').is_some_and(|(h, p)| {
                !h.is_empty()
                    && p.parse::<u16>().is_ok_and(|p| p > 0)
                    && h.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':')
                    })
            });
            if !ok {
                return Err(format!(
                    "{url:?}: member {:?} is not HOST:PORT",
                    translator::diag::one_line(m)
                ));
            }
            out.push(m.to_owned());
        }
        Ok((out, tls))
    }

    /// A configuration for the members of `url` with every default, for host `host`.
    pub fn from_url(url: &str, host: &str) -> Result<EtcdConfig, String> {
        let (endpoints, tls) = EtcdConfig::parse_url(url)?;
        check_host(host)?;
        Ok(EtcdConfig {
            endpoints,
            tls: tls.then(TlsFiles::default),
            timeout: DEFAULT_TIMEOUT,
            host: host.to_owned(),
            prefix: DEFAULT_PREFIX.to_owned(),
            lease_ttl: DEFAULT_LEASE_TTL,
        })
    }

    /// The cluster as messages name it: `etcd://H1:P1,H2:P2`.
    pub fn store_name(&self) -> String {
        let scheme = if self.tls.is_some() { "etcds" } else { "etcd" };
        format!("{scheme}://{}", self.endpoints.join(","))
    }
}

/// Checks a host id for use in keys: 1 to 253 bytes of letters, digits, `.`, `-`, `_`.
pub fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty()
        || host.len() > 253
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(format!(
            "host id {:?} is not 1 to 253 letters, digits, `.`, `-` or `_`",
            translator::diag::one_line(host)
        ));
    }
    Ok(())
}

/// Who owns a MAC in the fleet: the host, and the NIC there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacOwner {
    /// The host id.
    pub host: String,
    /// The NIC.
    pub owner: Owner,
    /// Its domain's UUID, when known (a migrating guest keeps it).
    #[serde(default)]
    pub domain_uuid: Option<String>,
}

/// What one host sees differently in a shared bridge definition (absent: as shared).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BridgeOverride {
    /// The uplink device on this host (`bond0` here, `eno1` there).
    #[serde(default)]
    pub uplink: Option<String>,
    /// The MTU on this host.
    #[serde(default)]
    pub mtu: Option<u32>,
}

/// Why one attempt stopped: the store failed, or the registry refused the request.
pub(crate) enum Fail {
    Etcd(etcd_client::Error),
    Registry(RegistryError),
}

impl From<etcd_client::Error> for Fail {
    fn from(e: etcd_client::Error) -> Fail {
        Fail::Etcd(e)
    }
}

impl From<RegistryError> for Fail {
    fn from(e: RegistryError) -> Fail {
        Fail::Registry(e)
    }
}

impl From<registry::ModelError> for Fail {
    fn from(e: registry::ModelError) -> Fail {
        Fail::Registry(e.into())
    }
}

/// The registry on an etcd cluster, seen from one host. Connects on first use; every
/// call blocks (on a runtime of its own) for at most the configured timeout.
pub struct EtcdRegistry {
    cfg: EtcdConfig,
    keys: Keys,
    rt: tokio::runtime::Runtime,
    client: OnceLock<Client>,
    lease: AtomicI64,
}

impl std::fmt::Debug for EtcdRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdRegistry")
            .field("store", &self.cfg.store_name())
            .field("host", &self.cfg.host)
            .finish_non_exhaustive()
    }
}

/// One consistent read: each key's value, revision and lease.
#[derive(Debug, Default)]
pub(crate) struct Snap {
    /// The store's revision when read.
    pub(crate) rev: i64,
    /// Key -> (value, mod revision, lease); absent keys are not here.
    pub(crate) kvs: std::collections::BTreeMap<String, (Vec<u8>, i64)>,
    /// Every key read (present or not), with the revision to compare (0: absent).
    pub(crate) seen: std::collections::BTreeMap<String, i64>,
    /// Prefixes read whole.
    pub(crate) ranges: Vec<String>,
}

impl Snap {
    pub(crate) fn get(&self, key: &str) -> Option<&[u8]> {
        self.kvs.get(key).map(|(v, _)| v.as_slice())
    }

    /// The keys under `prefix` that were read, with their values.
    pub(crate) fn under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        self.kvs
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, (v, _))| (k.as_str(), v.as_slice()))
    }

    fn absorb(&mut self, kvs: &[KeyValue]) {
        for kv in kvs {
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            self.seen.insert(key.clone(), kv.mod_revision());
            self.kvs
                .insert(key, (kv.value().to_vec(), kv.mod_revision()));
        }
    }
}

/// A write: the operations, and whether it is a change the generation counts.
#[derive(Default)]
pub(crate) struct Write {
    pub(crate) ops: Vec<TxnOp>,
    pub(crate) counts: bool,
}

impl EtcdRegistry {
    /// The registry on the cluster `cfg` names. Does not connect yet.
    pub fn new(cfg: EtcdConfig) -> Result<EtcdRegistry, RegistryError> {
        let store = cfg.store_name();
        check_host(&cfg.host).map_err(|problem| RegistryError::StoreProblem {
            store: store.clone(),
            problem,
        })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Store {
                store,
                op: "starting the client's runtime",
                source: Box::new(e),
            })?;
        let keys = Keys {
            prefix: cfg.prefix.clone(),
            host: cfg.host.clone(),
        };
        Ok(EtcdRegistry {
            cfg,
            keys,
            rt,
            client: OnceLock::new(),
            lease: AtomicI64::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EtcdConfig {
        &self.cfg
    }

    pub(crate) fn store(&self) -> String {
        self.cfg.store_name()
    }

    fn connect_options(&self) -> Result<ConnectOptions, RegistryError> {
        let mut o = ConnectOptions::new()
            .with_timeout(self.cfg.timeout)
            .with_connect_timeout(self.cfg.timeout)
            .with_require_leader(true)
            .with_keep_alive(Duration::from_secs(10), self.cfg.timeout);
        if let Some(tls) = &self.cfg.tls {
            let read = |p: &PathBuf, what: &'static str| {
                std::fs::read(p).map_err(|e| RegistryError::StoreProblem {
                    store: self.store(),
                    problem: format!("cannot read the TLS {what} {}: {e}", p.display()),
                })
            };
            let mut t = TlsOptions::new();
            if let Some(ca) = &tls.ca {
                t = t.ca_certificate(Certificate::from_pem(read(ca, "CA")?));
            }
            match (&tls.cert, &tls.key) {
                (Some(c), Some(k)) => {
                    t = t.identity(Identity::from_pem(read(c, "certificate")?, read(k, "key")?))
                }
                (None, None) => {}
                _ => {
                    return Err(RegistryError::StoreProblem {
                        store: self.store(),
                        problem: "a client certificate needs its key, and a key its certificate"
                            .into(),
                    })
                }
            }
            o = o.with_tls(t);
        }
        Ok(o)
    }

    /// The members as the client dials them (`http://H:P` or `https://H:P`).
    fn endpoint_urls(&self) -> Vec<String> {
        let scheme = if self.cfg.tls.is_some() {
            "https"
        } else {
            "http"
        };
        self.cfg
            .endpoints
            .iter()
            .map(|e| format!("{scheme}://{e}"))
            .collect()
    }

    fn client(&self) -> Result<Client, RegistryError> {
        if let Some(c) = self.client.get() {
            return Ok(c.clone());
        }
        let eps = self.endpoint_urls();
        let opts = self.connect_options()?;
        let timeout = self.cfg.timeout;
        let c = self
            .rt
            .block_on(async {
                tokio::time::timeout(timeout, Client::connect(eps, Some(opts))).await
            })
            .map_err(|_| self.unreachable("connecting", None))?
            .map_err(|e| self.etcd_err("connecting", e))?;
        Ok(self.client.get_or_init(|| c).clone())
    }

    fn unreachable(&self, op: &'static str, e: Option<etcd_client::Error>) -> RegistryError {
        RegistryError::Unreachable {
            store: self.store(),
            op,
            timeout: self.cfg.timeout,
            source: e.map(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
        }
    }

    /// Whether `e` says the member or the cluster is unreachable or has no leader (worth
    /// trying again on another member until the timeout).
    fn is_down(e: &etcd_client::Error) -> bool {
        use etcd_client::Error as E;
        match e {
            E::TransportError(_) | E::IoError(_) => true,
            // gRPC's CANCELLED (1), UNKNOWN (2) for a broken transport,
            // DEADLINE_EXCEEDED (4), UNAVAILABLE (14).
            E::GRpcStatus(s) => {
                matches!(s.code() as i32, 1 | 4 | 14)
                    || (s.code() as i32 == 2 && s.message().contains("transport"))
                    || s.message().contains("no leader")
                    || s.message().contains("leader changed")
                    || s.message().contains("timed out")
            }
            _ => false,
        }
    }

    fn etcd_err(&self, op: &'static str, e: etcd_client::Error) -> RegistryError {
        if Self::is_down(&e) {
            self.unreachable(op, Some(e))
        } else {
            RegistryError::Store {
                store: self.store(),
                op,
                source: Box::new(e),
            }
        }
    }

    /// Runs `f` (one attempt) until it commits, within the timeout: an attempt whose
    /// checked keys changed is tried again, and so is one that found a member down or no
    /// leader (the client goes to another member); at the deadline, the last error.
    pub(crate) fn run<T, F, Fut>(&self, op: &'static str, mut f: F) -> Result<T, RegistryError>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<Option<T>, Fail>>,
    {
        let client = self.client()?;
        let deadline = Instant::now() + self.cfg.timeout;
        let mut last: Option<etcd_client::Error> = None;
        let result = self.rt.block_on(async {
            tokio::time::timeout_at(deadline.into(), async {
                let mut conflicts = 0;
                loop {
                    match f(client.clone()).await {
                        Ok(Some(v)) => return Ok(v),
                        Ok(None) => {
                            conflicts += 1;
                            if conflicts >= ATTEMPTS {
                                return Err(Fail::Registry(RegistryError::StoreProblem {
                                    store: self.store(),
                                    problem: format!(
                                        "{op}: the keys checked changed under every one of \
                                         {ATTEMPTS} attempts"
                                    ),
                                }));
                            }
                        }
                        Err(Fail::Etcd(e)) if Self::is_down(&e) => {
                            last = Some(e);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => return Err(e),
                    }
                }
            })
            .await
        });
        match result {
            Err(_) => Err(self.unreachable(op, last)),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(Fail::Registry(e))) => Err(e),
            Ok(Err(Fail::Etcd(e))) => Err(self.etcd_err(op, e)),
        }
    }

    /// Reads `keys` and the keys under `prefixes` at one revision, into `snap`.
    pub(crate) async fn read(
        mut client: Client,
        snap: &mut Snap,
        keys: &[String],
        prefixes: &[String],
    ) -> Result<(), Fail> {
        let keys: Vec<&String> = keys
            .iter()
            .filter(|k| !snap.seen.contains_key(*k))
            .collect();
        let mut ops: Vec<TxnOp> = keys.iter().map(|k| TxnOp::get(k.as_str(), None)).collect();
        for p in prefixes {
            ops.push(TxnOp::get(
                p.as_str(),
                Some(GetOptions::new().with_prefix()),
            ));
        }
        if ops.is_empty() {
            return Ok(());
        }
        let resp = client.txn(Txn::new().and_then(ops)).await?;
        let rev = resp.header().map_or(0, |h| h.revision());
        if snap.rev == 0 || rev < snap.rev {
            snap.rev = rev;
        }
        for k in &keys {
            snap.seen.entry((*k).clone()).or_insert(0);
        }
        for r in resp.op_responses() {
            if let TxnOpResponse::Get(g) = r {
                snap.absorb(g.kvs());
            }
        }
        snap.ranges.extend(prefixes.iter().cloned());
        Ok(())
    }

    /// Commits `write` if nothing `snap` read changed since. Whether it committed (an
    /// empty write commits nothing and is `true`).
    pub(crate) async fn commit(
        &self,
        mut client: Client,
        snap: &Snap,
        write: Write,
    ) -> Result<bool, Fail> {
        if write.ops.is_empty() {
            return Ok(true);
        }
        let mut cmp: Vec<Compare> = snap
            .seen
            .iter()
            .map(|(k, rev)| Compare::mod_revision(k.as_str(), CompareOp::Equal, *rev))
            .collect();
        for p in &snap.ranges {
            cmp.push(
                Compare::mod_revision(p.as_str(), CompareOp::Less, snap.rev + 1).with_prefix(),
            );
        }
        let mut ops = write.ops;
        if write.counts {
            ops.push(TxnOp::put(self.keys.generation(), "", None));
        }
        let resp = client.txn(Txn::new().when(cmp).and_then(ops)).await?;
        Ok(resp.succeeded())
    }

    /// The host's lease, from `snap` (which read [`Keys::lease`]): an error when the
    /// host has none (no keepalive runs).
    pub(crate) fn lease_in(&self, snap: &Snap) -> Result<i64, RegistryError> {
        let key = self.keys.lease();
        match snap
            .get(&key)
            .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        {
            Some(id) => {
                self.lease.store(id, Ordering::Relaxed);
                Ok(id)
            }
            None => Err(RegistryError::StoreProblem {
                store: self.store(),
                problem: format!(
                    "host {} has no live lease, so nothing it records would be kept: start \
                     `vifkit fleet keepalive` on it (the vifkit-fleet unit)",
                    self.cfg.host
                ),
            }),
        }
    }

    pub(crate) fn put_leased(key: String, value: Vec<u8>, lease: i64) -> TxnOp {
        TxnOp::put(key, value, Some(PutOptions::new().with_lease(lease)))
    }

    /// The host's lease: the live one stored under `hosts/HOST/lease`, or a new one
    /// granted and stored. Returns its id.
    pub fn ensure_lease(&self) -> Result<i64, RegistryError> {
        let key = self.keys.lease();
        let ttl = i64::try_from(self.cfg.lease_ttl.as_secs().max(2)).unwrap_or(i64::MAX);
        self.run("taking the host's lease", |mut c| {
            let key = key.clone();
            async move {
                let got = c.get(key.as_str(), None).await?;
                if let Some(kv) = got.kvs().first() {
                    if let Some(id) = std::str::from_utf8(kv.value())
                        .ok()
                        .and_then(|s| s.parse().ok())
                    {
                        return Ok(Some(id));
                    }
                }
                let lease = c.lease_grant(ttl, None).await?;
                let id = lease.id();
                let txn = Txn::new()
                    .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                    .and_then([Self::put_leased(
                        key.clone(),
                        id.to_string().into_bytes(),
                        id,
                    )]);
                let r = c.txn(txn).await?;
                if r.succeeded() {
                    Ok(Some(id))
                } else {
                    // Another process of this host stored one first: use that.
                    let _ = c.lease_revoke(id).await;
                    Ok(None)
                }
            }
        })
        .inspect(|id| self.lease.store(*id, Ordering::Relaxed))
    }

    /// Keeps the host's lease alive until `stop` says so, taking a new one when it was
    /// lost (after a partition longer than its TTL: the host's records went with it, and
    /// `vifkit reconcile` writes them again). Calls `event` with a line for each such
    /// change. Returns when `stop()` is true (checked every tick).
    pub fn keep_alive(
        &self,
        stop: &dyn Fn() -> bool,
        event: &mut dyn FnMut(&str),
    ) -> Result<(), RegistryError> {
        let tick = (self.cfg.lease_ttl / 3).max(Duration::from_millis(200));
        let mut id = 0;
        while !stop() {
            if id == 0 {
                match self.ensure_lease() {
                    Ok(new) => {
                        event(&format!(
                            "host {}: lease {new:x} (TTL {} s)",
                            self.cfg.host,
                            self.cfg.lease_ttl.as_secs()
                        ));
                        id = new;
                    }
                    Err(e) => event(&format!(
                        "host {}: no lease yet: {}",
                        self.cfg.host,
                        translator::diag::error_chain(&e)
                    )),
                }
            } else {
                let client = self.client()?;
                // One renewal waits a tick at most, never the whole timeout: a request
                // stuck on a member that died (or had no quorum) would otherwise hold
                // the next renewal back past the TTL once the cluster is whole again,
                // and the host's records would expire under a live host.
                let timeout = self.cfg.timeout.min(tick);
                let alive = self.rt.block_on(async move {
                    let mut c = client;
                    let run = async {
                        let (mut keeper, mut stream) = c.lease_keep_alive(id).await?;
                        keeper.keep_alive().await?;
                        let msg = stream.message().await?;
                        Ok::<_, etcd_client::Error>(msg.map(|m| m.ttl()))
                    };
                    tokio::time::timeout(timeout, run).await
                });
                match alive {
                    Ok(Ok(Some(ttl))) if ttl > 0 => {}
                    Ok(Ok(_)) => {
                        event(&format!(
                            "host {}: lease {id:x} expired: its records are gone; taking a new one",
                            self.cfg.host
                        ));
                        id = 0;
                        continue;
                    }
                    Ok(Err(e)) => event(&format!(
                        "host {}: keepalive failed: {}",
                        self.cfg.host,
                        translator::diag::error_chain(&self.etcd_err("keeping the lease alive", e))
                    )),
                    Err(_) => {
                        event(&format!(
                            "host {}: keepalive: no answer within {} ms",
                            self.cfg.host,
                            timeout.as_millis()
                        ));
                        // That attempt took its tick: try again at once.
                        continue;
                    }
                }
            }
            let until = Instant::now() + tick;
            while Instant::now() < until && !stop() {
                std::thread::sleep(Duration::from_millis(50).min(tick));
            }
        }
        Ok(())
    }

    /// Revokes the host's lease (a clean leave): every claim and record of this host
    /// goes at once.
    pub fn revoke_lease(&self) -> Result<(), RegistryError> {
        let key = self.keys.lease();
        self.run("revoking the host's lease", |mut c| {
            let key = key.clone();
            async move {
                let got = c.get(key.as_str(), None).await?;
                if let Some(id) = got
                    .kvs()
                    .first()
                    .and_then(|kv| std::str::from_utf8(kv.value()).ok()?.parse::<i64>().ok())
                {
                    c.lease_revoke(id).await?;
                }
                Ok(Some(()))
            }
        })
    }

    /// Who owns `mac` in the fleet, if anyone.
    pub fn mac_owner(&self, mac: translator::MacAddr) -> Result<Option<MacOwner>, RegistryError> {
        self.read_one(self.keys.mac(mac), "reading a MAC's owner")
    }

    /// The JSON value at `key`, decoded, if there is one.
    fn read_one<T: serde::de::DeserializeOwned>(
        &self,
        key: String,
        op: &'static str,
    ) -> Result<Option<T>, RegistryError> {
        let got = self.run(op, |c| {
            let key = key.clone();
            async move {
                let mut snap = Snap::default();
                Self::read(c, &mut snap, std::slice::from_ref(&key), &[]).await?;
                Ok(Some(snap.get(&key).map(<[u8]>::to_vec)))
            }
        })?;
        got.map(|v| self.decode(&key, &v)).transpose()
    }

    /// This host's override of a shared bridge, if it has one.
    pub fn override_here(
        &self,
        bridge: &translator::IfName,
    ) -> Result<Option<BridgeOverride>, RegistryError> {
        self.read_one(self.keys.override_here(bridge), "reading a bridge override")
    }

    /// Sets (or with `None` drops) this host's override of a shared bridge.
    pub fn set_override(
        &self,
        bridge: &translator::IfName,
        over: Option<&BridgeOverride>,
    ) -> Result<(), RegistryError> {
        let key = self.keys.override_here(bridge);
        let bkey = self.keys.bridge(bridge);
        let value = over
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| RegistryError::Store {
                store: self.store(),
                op: "writing a bridge override",
                source: Box::new(e),
            })?;
        self.run("writing a bridge override", |c| {
            let (key, bkey, value) = (key.clone(), bkey.clone(), value.clone());
            async move {
                let mut snap = Snap::default();
                Self::read(c.clone(), &mut snap, &[bkey.clone(), key.clone()], &[]).await?;
                if snap.get(&bkey).is_none() {
                    return Err(RegistryError::UnknownBridge(bridge.clone()).into());
                }
                let ops = vec![match value {
                    Some(v) => TxnOp::put(key, v, None),
                    None => TxnOp::delete(key, None),
                }];
                let done = self.commit(c, &snap, Write { ops, counts: true }).await?;
                Ok(done.then_some(()))
            }
        })
    }

    /// Decodes a JSON value, or says which key is corrupt.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
        v: &[u8],
    ) -> Result<T, RegistryError> {
        serde_json::from_slice(v).map_err(|e| RegistryError::BadValue {
            store: self.store(),
            key: translator::diag::one_line(key),
            reason: translator::diag::one_line(&e.to_string()),
        })
    }

    pub(crate) fn encode<T: Serialize>(&self, v: &T) -> Vec<u8> {
        serde_json::to_vec(v).expect("records serialise")
    }
}
