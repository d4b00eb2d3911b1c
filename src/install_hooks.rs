//! `vifkit install-hooks` / `uninstall-hooks`: the `.d/` links libvirt (6.5 and later)
//! runs as hooks, `/etc/libvirt/hooks/{libxl,qemu,network}.d/50-vifkit` -> the vifkit
//! binary. A main hook file (`/etc/libvirt/hooks/qemu`) is never touched, nor any file
//! vifkit did not write.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use libvirt_hooks::Driver;

use crate::report::Failure;

/// The link's name in each `.d` directory.
pub const LINK_NAME: &str = "50-vifkit";

/// What Debian's and Ubuntu's AppArmor profiles of the daemons that run hooks need for
/// vifkit's netlink socket: they allow `network netlink raw` only, and a hook runs
/// under its daemon's profile (`/etc/libvirt/hooks/** rmix`).
pub const APPARMOR_LINE: &str = "network netlink dgram,";

/// libvirt's AppArmor profiles of the daemons that run hooks: the monolithic
/// `libvirtd`, and the modular `virtqemud` and `virtxend` (`virtnetworkd` has none).
pub const APPARMOR_PROFILES: &str = "usr.sbin.libvirtd, usr.sbin.virtqemud, usr.sbin.virtxend";

fn hooks_dir(root: Option<&Path>) -> PathBuf {
    root.unwrap_or(Path::new("/")).join("etc/libvirt/hooks")
}

/// Whether `link` is a link vifkit wrote: a symlink to a file named `vifkit*`.
fn is_ours(link: &Path) -> bool {
    std::fs::read_link(link).is_ok_and(|t| {
        t.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("vifkit"))
    })
}

/// `install-hooks`: one link per driver to `bin` (default: this binary). An existing
/// file of the link's name that is not the same link is left alone and reported.
pub fn install(root: Option<&Path>, bin: Option<&Path>) -> Result<String, Failure> {
    let target = match bin {
        Some(b) => std::path::absolute(b).context("Cannot make the binary's path absolute")?,
        None => std::env::current_exe().context("Cannot find this binary's path")?,
    };
    let dir = hooks_dir(root);
    let mut out = String::new();
    let mut problems = Vec::new();
    let mut todo = Vec::new();
    // Every link is checked before any is written: a refusal changes nothing.
    for d in Driver::ALL {
        let link = dir.join(format!("{d}.d")).join(LINK_NAME);
        match std::fs::symlink_metadata(&link) {
            Ok(_) if std::fs::read_link(&link).is_ok_and(|t| t == target) => {
                out.push_str(&format!("{}: unchanged\n", link.display()));
            }
            Ok(_) => problems.push(format!(
                "{} already exists and is not a link to {}: left alone",
                link.display(),
                target.display()
            )),
            Err(e) if e.kind() == ErrorKind::NotFound => todo.push(link),
            Err(e) => problems.push(format!("Cannot look at {}: {e}", link.display())),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    for link in todo {
        let made = link
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::os::unix::fs::symlink(&target, &link));
        match made {
            Ok(()) => out.push_str(&format!(
                "{} -> {}: created\n",
                link.display(),
                target.display()
            )),
            Err(e) => problems.push(format!("Cannot create {}: {e}", link.display())),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    out.push_str(&format!(
        "\nlibvirt reads new hooks only when it starts or on SIGHUP: reload libvirtd (or \
         virtqemud, virtxend, virtnetworkd).\nDebian/Ubuntu AppArmor: add this line to \
         /etc/apparmor.d/local/P for each profile P of {APPARMOR_PROFILES} that \
         /etc/apparmor.d has, and reload it (apparmor_parser -r /etc/apparmor.d/P); \
         virtnetworkd has no profile:\n    {APPARMOR_LINE}\n"
    ));
    Ok(out)
}

/// `uninstall-hooks`: removes the links `install-hooks` wrote (symlinks to a `vifkit`
/// binary); anything else of that name is left alone and reported.
pub fn uninstall(root: Option<&Path>) -> Result<String, Failure> {
    let dir = hooks_dir(root);
    let mut out = String::new();
    let mut problems = Vec::new();
    for d in Driver::ALL {
        let link = dir.join(format!("{d}.d")).join(LINK_NAME);
        match std::fs::symlink_metadata(&link) {
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => problems.push(format!("Cannot look at {}: {e}", link.display())),
            Ok(_) if is_ours(&link) => match std::fs::remove_file(&link) {
                Ok(()) => out.push_str(&format!("{}: removed\n", link.display())),
                Err(e) => problems.push(format!("Cannot remove {}: {e}", link.display())),
            },
            Ok(_) => problems.push(format!(
                "{} is not a link vifkit wrote: left alone",
                link.display()
            )),
        }
    }
    if !problems.is_empty() {
        return Err(Failure::Invalid(problems));
    }
    Ok(out)
}
