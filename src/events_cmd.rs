//! `vifkit serve --libvirt URI` following libvirt's domain events: the `vifkit-libvirt
//! events URI` helper streams them as JSON lines (`vifkit` itself never links libvirt),
//! and each is handed to `libvirt_hooks::hotplug` inside one registry write:
//!
//! - `device-added`, `device-removed`: the guest's NICs re-synced from its live XML; a
//!   hot-plugged NIC `prepare` would refuse is detached again (a request to the helper),
//!   with a line naming the guest, the MAC and why;
//! - `started`: the guest's NICs recorded (what its `started` hook recorded, or, without
//!   the hooks, the first record); a NIC that would be refused is only reported;
//! - `stopped`: the guest's records and claims dropped.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use dbus_service::{reconcile, ServiceError, Store};
use libvirt_hooks::hotplug::{self, Refused};
use libvirt_hooks::{Domain, Host, LazyNetlink, Level, MemoryLog};
use registry::Registry;
use serde_json::{json, Value};

use crate::report::chain;

/// The running helper: killed and waited for when dropped.
pub struct Follower {
    child: Child,
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the helper and a task that applies its events; `say` prints one line.
/// Returns once the helper follows the events (so that a reconcile after it misses
/// nothing), or fails when the helper ends first.
pub async fn follow(store: Arc<Store>, uri: &str, say: fn(&str)) -> anyhow::Result<Follower> {
    let helper = crate::helper::path(crate::libvirt::HELPER, "VIFKIT_LIBVIRT_HELPER");
    let mut child = Command::new(&helper)
        .args(["events", uri])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("{} cannot run", helper.display()))?;
    let stdout = child.stdout.take().context("the helper's stdout")?;
    let stdin = Arc::new(Mutex::new(
        child.stdin.take().context("the helper's stdin")?,
    ));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("libvirt-events".into())
        .spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) if v["event"] == "ready" => {
                        if let Some(r) = ready_tx.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => say(&format!(
                        "warning: vifkit-libvirt events said something else than JSON: {line}"
                    )),
                }
            }
        })
        .context("Cannot start the libvirt events thread")?;
    let mut follower = Follower { child };
    if ready_rx.await.is_err() {
        let status = follower.child.wait().ok();
        anyhow::bail!(
            "vifkit-libvirt events ended before following them ({})",
            status.map_or_else(|| "status unknown".to_owned(), |s| s.to_string())
        );
    }
    say(&format!(
        "vifkit serve: following libvirt's domain events at {uri}"
    ));
    let uri = uri.to_owned();
    tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            handle(&store, &uri, &stdin, ev, say).await;
        }
        say(&format!(
            "warning: vifkit serve: no more libvirt events from {uri} (the helper ended)"
        ));
    });
    Ok(follower)
}

/// Whose hooks a live XML is for: libxl for `<domain type='xen'>`, else qemu.
fn hook_driver(xml: &str) -> libvirt_hooks::Driver {
    match reconcile::driver_of(xml) {
        registry::Driver::Xen => libvirt_hooks::Driver::Libxl,
        registry::Driver::Qemu => libvirt_hooks::Driver::Qemu,
    }
}

/// What one event did: the hook module's log lines, and the NICs refused.
type Outcome = (Vec<(Level, String)>, Vec<Refused>);

/// Runs `f` on a hook host over the service's registry, in one write.
async fn with_host<F>(store: &Arc<Store>, f: F) -> Result<Outcome, ServiceError>
where
    F: FnOnce(&Host<'_>) -> Result<Vec<Refused>, libvirt_hooks::HookError> + Send + 'static,
{
    store
        .write(move |reg: &dyn Registry| {
            let nl = LazyNetlink::new();
            let ovs = hostnet::ovs::Ovs::new();
            let log = MemoryLog::default();
            let host = Host {
                registry: reg,
                nl: &nl,
                ovs: &ovs,
                log: &log,
                network_state: std::path::Path::new(libvirt_hooks::NETWORK_STATE_DIR),
            };
            let refused = f(&host).map_err(|e| ServiceError::Registry(chain(&e)))?;
            Ok((log.lines(), refused))
        })
        .await
}

async fn handle(
    store: &Arc<Store>,
    uri: &str,
    stdin: &Arc<Mutex<ChildStdin>>,
    ev: Value,
    say: fn(&str),
) {
    let event = ev["event"].as_str().unwrap_or_default().to_owned();
    let domain = ev["domain"].as_str().unwrap_or_default().to_owned();
    let mut elements: Vec<String> = Vec::new();
    let outcome = match event.as_str() {
        "detached" => {
            let mac = ev["mac"].as_str().unwrap_or_default();
            match ev["error"].as_str() {
                None => say(&format!(
                    "vifkit serve: {domain}: detach of the NIC with MAC {mac} requested"
                )),
                Some(e) => say(&format!(
                    "warning: vifkit serve: {domain}: cannot detach the NIC with MAC {mac}: {e}"
                )),
            }
            return;
        }
        "stopped" => {
            let guest = domain.clone();
            let uri = uri.to_owned();
            with_host(store, move |host| {
                // A stopped domain has no XML left to tell: the connection's driver.
                let driver = match uri.starts_with("xen") {
                    true => libvirt_hooks::Driver::Libxl,
                    false => libvirt_hooks::Driver::Qemu,
                };
                let gone = hotplug::domain_stopped(host, driver, &guest)?;
                if !gone.is_empty() {
                    host.log.info(&format!(
                        "{guest}: stopped: dropped {} record(s)",
                        gone.len()
                    ));
                }
                Ok(Vec::new())
            })
            .await
        }
        "started" | "device-added" | "device-removed" => {
            let Some(xml) = ev["xml"].as_str().map(str::to_owned) else {
                return;
            };
            let dom = match Domain::parse(&xml) {
                Ok(d) => d,
                Err(e) => {
                    say(&format!(
                        "warning: vifkit serve: {domain}: {event}: {}",
                        chain(&e)
                    ));
                    return;
                }
            };
            let driver = hook_driver(&xml);
            // Each interface's element as libvirt wrote it: what a detach names.
            elements = dom
                .nics
                .iter()
                .map(|n| {
                    xml.get(n.located.span.clone())
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            with_host(store, move |host| {
                hotplug::devices_changed(host, driver, &dom).map(|c| c.refused)
            })
            .await
        }
        _ => return,
    };
    let (lines, refused) = match outcome {
        Ok(o) => o,
        Err(e) => {
            say(&format!(
                "warning: vifkit serve: {domain}: {event}: {}",
                e.message()
            ));
            return;
        }
    };
    for (level, line) in lines {
        match level {
            Level::Debug => {}
            Level::Warning | Level::Error => say(&format!("warning: vifkit serve: {line}")),
            Level::Info => say(&format!("vifkit serve: {line}")),
        }
    }
    for r in refused {
        let mac = r.mac.map(|m| m.to_string());
        let mac_text = mac.as_deref().unwrap_or("(none)");
        if event == "started" || mac.is_none() {
            say(&format!(
                "warning: vifkit serve: {domain}: interface[{}] (MAC {mac_text}) not recorded: {}",
                r.index, r.why
            ));
            continue;
        }
        say(&format!(
            "vifkit serve: {domain}: hot-plugged interface[{}] (MAC {mac_text}) refused, \
             detaching it: {}",
            r.index, r.why
        ));
        let element = elements.get(r.index).cloned().unwrap_or_default();
        let req = json!({ "detach": { "domain": domain, "mac": mac, "xml": element } });
        let mut line = req.to_string();
        line.push('\n');
        let sent = stdin
            .lock()
            .map_err(|_| std::io::Error::other("lock poisoned"))
            .and_then(|mut s| s.write_all(line.as_bytes()).and_then(|()| s.flush()));
        if let Err(e) = sent {
            say(&format!(
                "warning: vifkit serve: {domain}: cannot ask for the detach of MAC {mac_text}: {e}"
            ));
        }
    }
}
