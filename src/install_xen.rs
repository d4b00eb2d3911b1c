//! `vifkit install-xen-scripts` / `uninstall-xen-scripts`: the hotplug scripts xl runs,
//! `/etc/xen/scripts/vif-vifkit` (a bridged NIC, Linux bridge or Open vSwitch as its
//! bridge needs), `vif-vifkit-route` and `vif-vifkit-nat`. Each is a two-line wrapper
//! that runs `vifkit vif-script`; the mode comes from the script's name (xl writes it to
//! xenstore) and the bridge. A file vifkit did not write is never overwritten or removed.
//!
//! Why wrappers and not links to the binary: xl runs the script by the path in the
//! vif's `script` key, and vifkit reads the mode from that name in xenstore, not from
//! its own program name, so one `vif-script` entry point serves every name.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::report::Failure;

/// The first line after `#!`: marks a wrapper vifkit wrote.
const MARK: &str = "# Written by vifkit install-xen-scripts: the xl vif hotplug script.";

fn scripts_dir(root: Option<&Path>) -> PathBuf {
    root.unwrap_or(Path::new("/")).join("etc/xen/scripts")
}

fn wrapper(bin: &Path) -> String {
    format!(
        "#!/bin/sh\n{MARK}\nexec '{}' vif-script \"$@\"\n",
        bin.display().to_string().replace('\'', "'\\''")
    )
}

fn is_ours(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.lines().nth(1) == Some(MARK))
}

/// Installs the three wrappers, running `bin` (default `/usr/bin/vifkit`).
pub fn install(root: Option<&Path>, bin: Option<&Path>) -> Result<String, Failure> {
    let bin = bin.unwrap_or(Path::new("/usr/bin/vifkit"));
    if !bin.is_absolute() {
        return Err(Failure::Invalid(vec![format!(
            "--bin {}: xl runs the script from anywhere, so the path must be absolute",
            bin.display()
        )]));
    }
    let text = wrapper(bin);
    let dir = scripts_dir(root);
    let mut problems = Vec::new();
    let mut todo = Vec::new();
    let mut out = String::new();
    // Every file is checked before any is written: a refusal changes nothing.
    for name in hotplug::SCRIPT_NAMES {
        let path = dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(t) if t == text => out.push_str(&format!("{}: unchanged\n", path.display())),
            Ok(_) if is_ours(&path) => todo.push(path),
            Ok(_) => problems.push(format!(
                "{} exists and is not a script vifkit wrote: left alone",
                path.display()
            )),
            Err(e) if e.kind() == ErrorKind::NotFound => todo.push(path),
            Err(e) => problems.push(format!("Cannot read {}: {e}", path.display())),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    for path in todo {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("Cannot create {}", dir.display()))?;
        crate::fsutil::create_atomic(&path, text.as_bytes(), 0o755)?;
        out.push_str(&format!("{}: written\n", path.display()));
    }
    out.push_str(
        "\nxl uses them for every vif with, in /etc/xen/xl.conf:\n    \
         vif.default.script=\"vif-vifkit\"\nor per vif: script=vif-vifkit, \
         script=vif-vifkit-route (routed), script=vif-vifkit-nat (NAT).\n",
    );
    Ok(out)
}

/// Removes the wrappers `install` wrote; anything else of those names stays, reported.
pub fn uninstall(root: Option<&Path>) -> Result<String, Failure> {
    let dir = scripts_dir(root);
    let mut out = String::new();
    let mut problems = Vec::new();
    for name in hotplug::SCRIPT_NAMES {
        let path = dir.join(name);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => problems.push(format!("Cannot look at {}: {e}", path.display())),
            Ok(m) if m.is_file() && is_ours(&path) => match std::fs::remove_file(&path) {
                Ok(()) => out.push_str(&format!("{}: removed\n", path.display())),
                Err(e) => problems.push(format!("Cannot remove {}: {e}", path.display())),
            },
            Ok(_) => problems.push(format!(
                "{} is not a script vifkit wrote: left alone",
                path.display()
            )),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    Ok(out)
}
