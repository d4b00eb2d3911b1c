//! `vifkit-libvirt`: the one part of vifkit that links libvirt.
//!
//! Linking libvirt (and its ~50 libraries) costs tens of milliseconds at every process
//! start, so the `vifkit` binary does not: for `--connect URI` it runs this helper, which
//! looks libvirt networks up read-only with the `virt` crate.
//!
//! Usage: `vifkit-libvirt network-bridges URI NAME...` prints one `NAME<TAB>BRIDGE` line
//! per network, with an empty BRIDGE for a network libvirt does not have. Errors go to
//! stderr as one `error: ...` line, exit status 1; usage errors exit 2.
//!
//! `vifkit-libvirt running-domains URI` prints one JSON object: `type` (the connection's
//! driver, as `virConnectGetType` says: `QEMU`, `Xen`, `TEST`, ...), `networks` (each
//! network's bridge, by name) and `domains` (each running domain's `id`, `name`, `uuid`
//! and live `xml`), for `vifkit serve --libvirt URI` and `vifkit reconcile --connect
//! URI`.
//!
//! `vifkit-libvirt events URI` follows the domains' lifecycle and device events, for
//! `vifkit serve --libvirt URI`: one JSON object per line on stdout, `{"event":
//! "ready"}` once the callbacks are registered, then for each event `event`
//! (`started`, `stopped`, `device-added`, `device-removed`), `domain`, `id`, `uuid`,
//! `alias` (a device event's device) and the domain's live `xml` (not for `stopped`).
//! It takes requests on stdin, one JSON object per line: `{"detach": {"domain": NAME,
//! "mac": MAC, "xml": ELEMENT}}` detaches that interface (its `<interface>` element as
//! the live XML has it) from the running domain and
//! answers `{"event": "detached", "domain", "mac", "error"}` (`error` null when libvirt
//! took the request). It ends when stdin closes, and with an `error:` line (exit 1) when
//! the connection is lost.

use std::io::Write;
use std::process::ExitCode;

use virt::connect::Connect;
use virt::error::ErrorNumber;

#[path = "vifkit-libvirt/events.rs"]
mod events;

fn lookup(uri: &str, names: &[String]) -> Result<String, String> {
    // libvirt prints every error to stderr by default; we report them ourselves.
    virt::error::clear_error_callback();
    let conn = Connect::open_read_only(Some(uri))
        .map_err(|e| format!("Cannot connect to libvirt at {uri}: {}", e.message()))?;
    let mut out = String::new();
    for name in names {
        let bridge = match conn.lookup_network_by_name(name) {
            Ok(net) => net
                .bridge_name()
                .map_err(|e| format!("Network `{name}` at {uri}: {}", e.message()))?,
            Err(e) if e.code().is(ErrorNumber::NoNetwork) => String::new(),
            Err(e) => {
                return Err(format!(
                    "Looking up network `{name}` at {uri}: {}",
                    e.message()
                ))
            }
        };
        out.push_str(name);
        out.push('\t');
        out.push_str(&bridge);
        out.push('\n');
    }
    Ok(out)
}

/// The running domains and the networks' bridges, as JSON.
fn running_domains(uri: &str) -> Result<String, String> {
    virt::error::clear_error_callback();
    let conn = Connect::open_read_only(Some(uri))
        .map_err(|e| format!("Cannot connect to libvirt at {uri}: {}", e.message()))?;
    let driver = conn
        .driver_type()
        .map_err(|e| format!("Asking {uri} its driver: {}", e.message()))?;
    let mut networks = serde_json::Map::new();
    let nets = conn
        .list_all_networks(0)
        .map_err(|e| format!("Listing the networks at {uri}: {}", e.message()))?;
    for net in nets {
        // A network that vanished since the listing is simply left out.
        if let (Ok(name), Ok(bridge)) = (net.name(), net.bridge_name()) {
            networks.insert(name, serde_json::Value::String(bridge));
        }
    }
    let doms = conn
        .list_all_domains(virt::sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE)
        .map_err(|e| format!("Listing the running domains at {uri}: {}", e.message()))?;
    let mut domains = Vec::new();
    for d in doms {
        let (Some(id), Ok(name), Ok(xml)) = (d.id(), d.name(), d.xml_desc(0)) else {
            continue;
        };
        domains.push(serde_json::json!({
            "id": id,
            "name": name,
            "uuid": d.uuid_string().ok(),
            "xml": xml,
        }));
    }
    let mut out =
        serde_json::json!({ "type": driver, "networks": networks, "domains": domains }).to_string();
    out.push('\n');
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let (Some("events"), Some(uri), 2) =
        (args.first().map(String::as_str), args.get(1), args.len())
    {
        return finish(events::follow(uri));
    }
    if let (Some("running-domains"), Some(uri), 2) =
        (args.first().map(String::as_str), args.get(1), args.len())
    {
        return finish(running_domains(uri));
    }
    let (Some("network-bridges"), Some(uri)) = (args.first().map(String::as_str), args.get(1))
    else {
        eprintln!(
            "usage: vifkit-libvirt network-bridges URI NAME... | vifkit-libvirt running-domains \
             URI | vifkit-libvirt events URI"
        );
        return ExitCode::from(2);
    };
    finish(lookup(uri, &args[2..]))
}

/// Prints a command's output, or its error as one `error:` line (exit status 1).
fn finish<E: std::fmt::Display>(result: Result<String, E>) -> ExitCode {
    match result {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
