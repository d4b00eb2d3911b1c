//! `vifkit reconcile [--connect URI]`: drops the registry's stale NIC records (and says
//! which), as the systemd unit `vifkit-boot.service` does at boot, before libvirtd
//! and xendomains start guests. `serve --libvirt URI` does the same at its start.
//!
//! A record is stale ([`hostnet::stale`]) when it was written in another boot, when its
//! domain is known not to run, or, when nobody can say, when none of its devices is on
//! the host. Who can say: libvirt's list of running domains, with `--connect URI`
//! (through the `vifkit-libvirt` helper; `vifkit` never links libvirt): a domain listed
//! with the record's driver, name and id runs; a QEMU record's domain not listed by a
//! QEMU connection does not (nor by libvirt's test driver, which stands in for QEMU in
//! tests). A Xen connection does not list the domains `xl` started, so for a Xen record
//! xenstore says: `/local/domain/<domid>/name` is its name, or it does not run.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use anyhow::{anyhow, bail, Context as _};
use dbus_service::reconcile::{driver_of, RunningDomain};
use hostnet::netlink::Netlink;
use hostnet::stale::{self, Running, SweepError, Swept};
use hotplug::xenstore::{CommandStore, DirStore, XenStore};
use registry::{Attachment, BootId, Driver, Registry};
use serde_json::Value;

use crate::report::Failure;

/// What a libvirt connection says is running.
#[derive(Debug, Default)]
pub struct Libvirt {
    /// The driver whose running domains the connection lists all of: QEMU's for a
    /// QEMU connection (and libvirt's test driver); none for Xen's, which does not list
    /// the domains `xl` started.
    pub complete_for: Option<Driver>,
    /// Every running domain: driver, name, id.
    pub running: HashSet<(Driver, String, u32)>,
    /// The running domains, with their live XML.
    pub domains: Vec<RunningDomain>,
    /// Each network's bridge, by name.
    pub networks: HashMap<String, String>,
}

/// Reads the helper's `running-domains` answer.
pub fn parse_running(json: &[u8]) -> anyhow::Result<Libvirt> {
    let v: Value =
        serde_json::from_slice(json).context("The libvirt helper's answer is not JSON")?;
    let networks: HashMap<String, String> = v["networks"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, b)| Some((k.clone(), b.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let complete_for = match v["type"].as_str() {
        Some(t) if t.eq_ignore_ascii_case("qemu") || t.eq_ignore_ascii_case("test") => {
            Some(Driver::Qemu)
        }
        _ => None,
    };
    let mut out = Libvirt {
        complete_for,
        networks,
        ..Libvirt::default()
    };
    for d in v["domains"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let (Some(id), Some(name), Some(xml)) = (
            d["id"].as_u64().and_then(|i| u32::try_from(i).ok()),
            d["name"].as_str(),
            d["xml"].as_str(),
        ) else {
            bail!("The libvirt helper's answer has a domain without id, name or xml");
        };
        let driver = driver_of(xml);
        out.running.insert((driver, name.to_owned(), id));
        out.domains.push(RunningDomain {
            driver,
            id,
            name: name.to_owned(),
            uuid: d["uuid"].as_str().map(str::to_owned),
            xml: xml.to_owned(),
        });
    }
    Ok(out)
}

/// Runs `vifkit-libvirt running-domains URI`.
pub fn ask_libvirt(uri: &str, option: &str) -> anyhow::Result<Libvirt> {
    let out = crate::helper::run(
        crate::libvirt::HELPER,
        "VIFKIT_LIBVIRT_HELPER",
        &["running-domains", uri],
        false,
    )
    .map_err(|e| anyhow!("{option} needs {e}"))?;
    if !out.status.success() {
        bail!(
            "{}",
            crate::helper::error_line(&out.stderr, "the libvirt helper failed")
        );
    }
    parse_running(&out.stdout)
}

/// xenstore: the directory `VIFKIT_XENSTORE_DIR` names (tests), else `xenstore-read`.
pub fn xenstore() -> Box<dyn XenStore> {
    match std::env::var_os(crate::hotplug_cmd::XENSTORE_DIR_ENV) {
        Some(dir) => Box::new(DirStore::new(dir)),
        None => Box::new(CommandStore),
    }
}

/// Whether `a`'s domain runs, when libvirt or xenstore can say.
pub fn running(libvirt: Option<&Libvirt>, store: &dyn XenStore, a: &Attachment) -> Running {
    if let Some(l) = libvirt {
        let key = (a.driver, a.domain_name.to_string(), a.domid);
        if l.running.contains(&key) {
            return Some((true, "libvirt"));
        }
        if l.complete_for == Some(a.driver) {
            return Some((false, "libvirt"));
        }
    }
    hotplug::xen_running(store, a)
}

/// Drops every stale record.
pub fn sweep(
    reg: &dyn Registry,
    nl: &Netlink,
    libvirt: Option<&Libvirt>,
    store: &dyn XenStore,
) -> Result<Swept, SweepError> {
    let boot = BootId::current();
    stale::sweep(reg, &mut |a| {
        stale::judge(a, boot, running(libvirt, store, a), nl)
    })
}

/// `reconcile`.
pub fn run(cfg: &crate::config::Config, connect: Option<&str>) -> Result<String, Failure> {
    let libvirt = match connect {
        Some(uri) => Some(
            ask_libvirt(uri, "--connect").map_err(|e| Failure::Invalid(vec![format!("{e:#}")]))?,
        ),
        None => None,
    };
    // No registry yet: nothing recorded, nothing stale (and none is made).
    let Some(reg) = crate::bridge_cmd::open_existing(cfg)? else {
        return Ok("0 stale record(s) dropped, 0 kept\n".to_owned());
    };
    let nl = Netlink::new().map_err(anyhow::Error::from)?;
    let swept =
        sweep(&*reg, &nl, libvirt.as_ref(), xenstore().as_ref()).map_err(anyhow::Error::from)?;
    let mut out = String::new();
    for (a, why) in &swept.dropped {
        let _ = writeln!(out, "{}", stale::dropped_line(a, why));
    }
    let _ = writeln!(
        out,
        "{} stale record(s) dropped, {} kept",
        swept.dropped.len(),
        swept.kept
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helpers_answer_and_who_may_say_a_domain_is_not_running() {
        let json = br#"{"type":"QEMU","networks":{"default":"virbr0"},"domains":[
            {"id":3,"name":"q","uuid":null,"xml":"<domain type='kvm'><name>q</name></domain>"},
            {"id":5,"name":"x","uuid":null,"xml":"<domain type='xen'><name>x</name></domain>"}]}"#;
        let l = parse_running(json).unwrap();
        assert_eq!(l.complete_for, Some(Driver::Qemu));
        assert_eq!(l.networks["default"], "virbr0");
        assert!(l.running.contains(&(Driver::Qemu, "q".to_owned(), 3)));
        assert!(l.running.contains(&(Driver::Xen, "x".to_owned(), 5)));
        let xen = parse_running(br#"{"type":"Xen","networks":{},"domains":[]}"#).unwrap();
        assert_eq!(xen.complete_for, None);
        assert!(parse_running(b"{\"domains\":[{\"id\":1}]}").is_err());
        assert!(parse_running(b"nope").is_err());

        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        store.write("/local/domain/5/name", "x").unwrap();
        let nic = |driver, name: &str, domid| {
            let mut a = Attachment::xen(
                registry::DomainName::new(name).unwrap(),
                domid,
                0,
                "00:16:3e:00:00:01".parse().unwrap(),
                translator::IfName::new("br0").unwrap(),
                false,
            )
            .unwrap();
            a.driver = driver;
            a
        };
        // Listed: runs. Not listed by a QEMU connection: a QEMU record's does not.
        assert_eq!(
            running(Some(&l), &store, &nic(Driver::Qemu, "q", 3)),
            Some((true, "libvirt"))
        );
        assert_eq!(
            running(Some(&l), &store, &nic(Driver::Qemu, "q", 4)),
            Some((false, "libvirt"))
        );
        // A Xen record not listed: xenstore says.
        assert_eq!(
            running(Some(&l), &store, &nic(Driver::Xen, "y", 6)),
            Some((false, "xenstore"))
        );
        assert_eq!(
            running(None, &store, &nic(Driver::Xen, "x", 5)),
            Some((true, "xenstore"))
        );
        // A QEMU record with nobody to ask: nobody says.
        assert_eq!(running(None, &store, &nic(Driver::Qemu, "q", 3)), None);
    }
}
