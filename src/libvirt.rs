//! Looking up libvirt networks' bridges (`--connect URI`), read-only.
//!
//! The lookup runs in the `vifkit-libvirt` helper binary (installed beside `vifkit`),
//! which links libvirt through the `virt` crate; `vifkit` itself does not link libvirt,
//! so that commands which never talk to libvirt start in a millisecond. Never used from a
//! hook (a hook must not call back into libvirt).

use std::collections::HashMap;

use translator::to_vif::{NetworkMap, NetworkResolver};

use crate::report::Failure;

/// Name of the helper binary.
pub const HELPER: &str = "vifkit-libvirt";

/// Bridges of the networks a document names, looked up once through the helper, with
/// `--network` entries taking precedence.
pub struct LibvirtNetworks {
    map: NetworkMap,
    found: HashMap<String, String>,
}

impl NetworkResolver for LibvirtNetworks {
    fn bridge_of(&self, network: &str) -> Result<Option<String>, String> {
        if let Some(b) = self.map.bridge_of(network)? {
            return Ok(Some(b));
        }
        Ok(self.found.get(network).filter(|b| !b.is_empty()).cloned())
    }
}

/// Looks up every network in `names` that `--network` does not map, through `uri`.
pub fn resolver(
    uri: &str,
    map: NetworkMap,
    names: &[&str],
) -> Result<Box<dyn NetworkResolver>, Failure> {
    let wanted: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !map.0.iter().any(|(m, _)| m == n))
        .collect();
    let mut found = HashMap::new();
    if !wanted.is_empty() {
        let mut args = vec!["network-bridges", uri];
        args.extend(&wanted);
        let out = crate::helper::run(HELPER, "VIFKIT_LIBVIRT_HELPER", &args, false)
            .map_err(|e| Failure::Invalid(vec![format!("--connect needs {e}")]))?;
        if !out.status.success() {
            let line = crate::helper::error_line(&out.stderr, "the libvirt lookup failed");
            return Err(Failure::Invalid(vec![line]));
        }
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((n, b)) = line.split_once('\t') {
                found.insert(n.to_owned(), b.to_owned());
            }
        }
    }
    Ok(Box::new(LibvirtNetworks { map, found }))
}
