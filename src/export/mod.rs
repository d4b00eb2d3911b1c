//! `vifkit export`: the registered bridges as a distribution's own network configuration
//! (SUSE's and Red Hat's `ifcfg` files, Debian's `/etc/network/interfaces` stanzas,
//! systemd-networkd's `.netdev`/`.network` files, NetworkManager's keyfiles), so that
//! they come back after a reboot without vifkit.
//!
//! What the registry holds is what is written: the bridge (Linux or Open vSwitch), its
//! uplink (a NIC or a bond, by name), the `UPLINK.N` VLAN device, the MTU and STP. The
//! uplink's own configuration (a bond's slaves and mode, addresses) is the
//! administrator's and is not written; nor are routed guests' host routes and proxy ARP,
//! which the registry does not hold (the hotplug script sets them while the guest runs).
//!
//! Every file written starts with a header line ([`MARK`]); a file that exists without
//! it is never replaced, and nothing is written when one of the files would be. A file
//! whose content is already right is left alone (`unchanged`).

mod formats;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use registry::{parse_if_name, Bridge};
use translator::diag::shown;

use crate::cli::ExportFormat;
use crate::config::Config;
use crate::report::{Failure, Report};

/// The start of the first line of every file `vifkit export` writes.
pub const MARK: &str = "# Written by vifkit export";

/// `--help` text of `vifkit export`.
pub const HELP: &str = "WHAT IS WRITTEN\n  Each registered bridge (or each --bridge): the bridge, its uplink as its port (or \
the VLAN device UPLINK.N on it), its MTU and STP. The uplink's own configuration (a bond's slaves \
and mode, addresses) is the administrator's and is not written; nor are routed guests' host \
routes and proxy ARP, which the registry does not hold. Open vSwitch bridges: ifupdown \
(openvswitch-switch) and ifcfg-redhat (ifup-ovs); the other formats refuse them, one line each.\n\n\
WHERE THE FILES GO (--out)\n  ifcfg-suse    /etc/sysconfig/network\n  ifcfg-redhat  \
/etc/sysconfig/network-scripts\n  ifupdown      /etc/network/interfaces.d (vifkit-BRIDGE; \
`source-directory` skips names with a dot, `source` takes them)\n  networkd      \
/etc/systemd/network (50-vifkit-*)\n  nmconnection  /etc/NetworkManager/system-connections \
(mode 0600)\nWithout --out every file is printed after a `==> NAME <==` line. With --out, \
each file is `written`, `replaced` (an earlier export) or `unchanged`; a file there that \
vifkit export did not write (no `# Written by vifkit export` first line) is never \
replaced, and then nothing is written.";

/// One file to write, its path relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFile {
    /// Relative path (a subdirectory for systemd-networkd's drop-ins).
    pub path: String,
    /// The whole content, header included.
    pub text: String,
    /// Permissions of a new file.
    pub mode: u32,
}

impl ExportFormat {
    /// The name as given on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::IfcfgSuse => "ifcfg-suse",
            ExportFormat::IfcfgRedhat => "ifcfg-redhat",
            ExportFormat::Ifupdown => "ifupdown",
            ExportFormat::Networkd => "networkd",
            ExportFormat::Nmconnection => "nmconnection",
        }
    }
}

/// The header of a file describing `what`.
pub(crate) fn header(format: ExportFormat, what: &str) -> String {
    format!(
        "{MARK} --format {}: {what}.\n# vifkit export replaces this file when run again; \
         edits here are lost (edit the registry: vifkit bridge).\n",
        format.as_str()
    )
}

/// `vifkit export`.
pub fn run(
    report: &mut Report,
    cfg: &Config,
    format: ExportFormat,
    names: &[String],
    out: Option<&Path>,
) -> Result<String, Failure> {
    // Check the names before the registry is opened.
    let mut problems = Vec::new();
    let mut wanted = Vec::new();
    for n in names {
        match parse_if_name("bridge name", n) {
            Ok(n) => wanted.push(n),
            Err(e) => problems.push(format!("--bridge: {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    // Read-only: never waits for a writer, and creates no registry (none: no bridges).
    let registered = crate::bridge_cmd::open_to_read(cfg)?
        .bridges()
        .map_err(anyhow::Error::from)?;
    let mut chosen: Vec<&Bridge> = Vec::new();
    if wanted.is_empty() {
        chosen.extend(registered.iter());
    } else {
        for w in &wanted {
            match registered.iter().find(|b| &b.name == w) {
                Some(b) if !chosen.iter().any(|c| c.name == b.name) => chosen.push(b),
                Some(_) => {}
                None => problems.push(format!("Bridge {w} is not in the registry")),
            }
        }
    }
    // Every file, by path: two bridges may share one (systemd-networkd's uplink file),
    // which must then be the same.
    let mut files: BTreeMap<String, OutFile> = BTreeMap::new();
    for b in &chosen {
        match formats::files(format, b) {
            Ok(fs) => {
                for f in fs {
                    match files.get(&f.path) {
                        Some(prev) if prev.text != f.text => problems.push(format!(
                            "Bridge {}: file {} would differ from the one written for \
                             another bridge",
                            b.name,
                            shown(&f.path)
                        )),
                        _ => {
                            files.insert(f.path.clone(), f);
                        }
                    }
                }
            }
            Err(why) if wanted.is_empty() => {
                report.warn(format!("Bridge {}: {why}: not exported", b.name));
            }
            Err(why) => problems.push(format!("Bridge {}: {why}", b.name)),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    if chosen.is_empty() {
        report.warn("No bridge in the registry: nothing to export".to_owned());
    }
    match out {
        None => Ok(print(&files)),
        Some(dir) => write(dir, &files),
    }
}

/// Standard output: each file after a `==> PATH <==` line, as `head` shows several.
fn print(files: &BTreeMap<String, OutFile>) -> String {
    let mut s = String::new();
    for (i, f) in files.values().enumerate() {
        if i > 0 {
            s.push('\n');
        }
        let _ = writeln!(s, "==> {} <==", f.path);
        s.push_str(&f.text);
    }
    s
}

/// What is at a target path.
enum Found {
    Missing,
    Same,
    Ours,
}

fn inspect(path: &Path) -> anyhow::Result<Found> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(anyhow!(e).context(format!("Cannot read {}", path.display()))),
        Ok(m) if !m.is_file() => {
            return Err(anyhow!(
                "{} exists and is not a regular file: not replaced",
                path.display()
            ))
        }
        Ok(_) => {}
    }
    let text = std::fs::read(path).with_context(|| format!("Cannot read {}", path.display()))?;
    if !text.starts_with(MARK.as_bytes()) {
        return Err(anyhow!(
            "{} exists and was not written by vifkit export: not replaced (move it away, \
             or leave this bridge out with --bridge)",
            path.display()
        ));
    }
    Ok(Found::Ours)
}

/// `--out DIR`: every file checked first, then written; nothing is written when one
/// would replace a file vifkit did not write.
fn write(dir: &Path, files: &BTreeMap<String, OutFile>) -> Result<String, Failure> {
    if !dir.is_dir() {
        return Err(anyhow!("--out {}: not a directory", dir.display()).into());
    }
    let mut plan: Vec<(PathBuf, &OutFile, Found)> = Vec::new();
    let mut problems = Vec::new();
    for f in files.values() {
        let path = dir.join(&f.path);
        match inspect(&path) {
            Ok(Found::Ours) => {
                let same = std::fs::read(&path).is_ok_and(|t| t == f.text.as_bytes());
                plan.push((path, f, if same { Found::Same } else { Found::Ours }));
            }
            Ok(found) => plan.push((path, f, found)),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    let mut out = String::new();
    for (path, f, found) in plan {
        let word = match found {
            Found::Same => "unchanged",
            Found::Ours => {
                crate::fsutil::write_atomic(&path, f.text.as_bytes())?;
                "replaced"
            }
            Found::Missing => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("Cannot create {}", parent.display()))?;
                }
                crate::fsutil::create_atomic(&path, f.text.as_bytes(), f.mode)?;
                "written"
            }
        };
        let _ = writeln!(out, "{}: {word}", path.display());
    }
    Ok(out)
}
