//! `vifkit install-service` and `uninstall-service`: put the D-Bus service's files
//! (packaging/dbus/, with the introspection XML of every interface from
//! packaging/dbus/interfaces/), the boot unit (packaging/systemd/) and the Cockpit page
//! (packaging/cockpit/) where Debian's dbus, systemd, polkit and Cockpit look for them,
//! under `--root`, and take them away again.
//!
//! The files are compiled into the binary, so the installed ones always match the
//! vifkit that installed them. The vifkit path is written into `Exec=` of the bus
//! activation file and `ExecStart=` of the units. Installing is idempotent; a file that
//! exists with other content (an administrator's edit, or another vifkit version's) is
//! never silently replaced: the whole command is refused, nothing is written, and
//! `--force` replaces such files. Uninstalling removes only files whose content is
//! exactly what this vifkit installs; an edited one stays, with a warning.
//!
//! systemd's unit directory is not hard-coded: `--unit-dir`, else what `pkg-config
//! systemd --variable=systemdsystemunitdir` says (as Debian's packaging does), else
//! `/lib/systemd/system` (Debian 12's).

use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};

use crate::fsutil::{create_atomic, write_atomic};
use crate::report::{Failure, Report};

/// The vifkit path the shipped files name, replaced by `--bin`.
pub const DEFAULT_BIN: &str = "/usr/bin/vifkit";

/// Where an installed file goes.
#[derive(Debug, Clone, Copy)]
pub enum Dest {
    /// This path under the root, without the leading `/`.
    Fixed(&'static str),
    /// This file name in systemd's unit directory.
    Unit(&'static str),
}

/// One installed file: where it goes and its shipped text.
#[derive(Debug, Clone, Copy)]
pub struct ServiceFile {
    /// Where it goes.
    pub dest: Dest,
    /// The file as shipped in packaging/ (naming [`DEFAULT_BIN`]).
    pub text: &'static str,
}

/// An introspection file of packaging/dbus/interfaces/, installed under
/// `/usr/share/dbus-1/interfaces/` (for `gdbus-codegen` and other client generators).
macro_rules! interface_file {
    ($name:literal) => {
        ServiceFile {
            dest: Dest::Fixed(concat!("usr/share/dbus-1/interfaces/", $name, ".xml")),
            text: include_str!(concat!("../packaging/dbus/interfaces/", $name, ".xml")),
        }
    };
}

/// The files, in the order they are written (policy before activation, so a bus that
/// reloads in between never has an activatable name it may not own; the interfaces'
/// descriptions first).
pub const FILES: [ServiceFile; 12] = [
    interface_file!("org.vifkit.Bridges1"),
    interface_file!("org.vifkit.NicModels1"),
    interface_file!("org.vifkit.Pairings1"),
    interface_file!("org.vifkit.Translator1"),
    interface_file!("org.vifkit.Translator2"),
    interface_file!("org.vifkit.Bridge2"),
    interface_file!("org.vifkit.Nic2"),
    ServiceFile {
        dest: Dest::Fixed("usr/share/dbus-1/system.d/org.vifkit.conf"),
        text: include_str!("../packaging/dbus/org.vifkit.conf"),
    },
    ServiceFile {
        dest: Dest::Fixed("usr/share/polkit-1/actions/org.vifkit.policy"),
        text: include_str!("../packaging/dbus/org.vifkit.policy"),
    },
    ServiceFile {
        dest: Dest::Unit("vifkit.service"),
        text: include_str!("../packaging/dbus/vifkit.service"),
    },
    ServiceFile {
        dest: Dest::Unit("vifkit-boot.service"),
        text: include_str!("../packaging/systemd/vifkit-boot.service"),
    },
    ServiceFile {
        dest: Dest::Fixed("usr/share/dbus-1/system-services/org.vifkit.service"),
        text: include_str!("../packaging/dbus/org.vifkit.service"),
    },
];

/// Where Cockpit finds the page: a package directory under its `/usr/share/cockpit`.
pub const COCKPIT_DIR: &str = "usr/share/cockpit/vifkit";

/// The Cockpit page (packaging/cockpit/), installed after the service's files. It
/// names no path of vifkit's: it reaches the service by its bus name.
pub const COCKPIT_FILES: [ServiceFile; 4] = [
    ServiceFile {
        dest: Dest::Fixed("usr/share/cockpit/vifkit/manifest.json"),
        text: include_str!("../packaging/cockpit/manifest.json"),
    },
    ServiceFile {
        dest: Dest::Fixed("usr/share/cockpit/vifkit/index.html"),
        text: include_str!("../packaging/cockpit/index.html"),
    },
    ServiceFile {
        dest: Dest::Fixed("usr/share/cockpit/vifkit/vifkit.js"),
        text: include_str!("../packaging/cockpit/vifkit.js"),
    },
    ServiceFile {
        dest: Dest::Fixed("usr/share/cockpit/vifkit/vifkit.css"),
        text: include_str!("../packaging/cockpit/vifkit.css"),
    },
];

/// Every installed file, in the order they are written.
pub fn all_files() -> impl DoubleEndedIterator<Item = &'static ServiceFile> {
    FILES.iter().chain(COCKPIT_FILES.iter())
}

/// Debian 12's systemd unit directory, when neither `--unit-dir` nor pkg-config says.
pub const FALLBACK_UNIT_DIR: &str = "/lib/systemd/system";

/// systemd's unit directory: `given`, else pkg-config's `systemdsystemunitdir`, else
/// [`FALLBACK_UNIT_DIR`]. Always absolute.
pub fn unit_dir(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(d) = given {
        if !d.is_absolute() {
            bail!("--unit-dir {}: must be an absolute path", d.display());
        }
        return Ok(d.to_path_buf());
    }
    let asked = Command::new("pkg-config")
        .args(["systemd", "--variable=systemdsystemunitdir"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    if let Ok(out) = asked {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && dir.starts_with('/') {
            return Ok(PathBuf::from(dir));
        }
    }
    Ok(PathBuf::from(FALLBACK_UNIT_DIR))
}

impl ServiceFile {
    /// Its path under `root`, with systemd's units in `unit_dir`.
    pub fn path(&self, root: &Path, unit_dir: &Path) -> PathBuf {
        match self.dest {
            Dest::Fixed(p) => root.join(p),
            Dest::Unit(name) => root
                .join(unit_dir.strip_prefix("/").unwrap_or(unit_dir))
                .join(name),
        }
    }
}

/// Checks `--bin`: an absolute path that D-Bus's and systemd's `Exec=` lines take as
/// one word, as it is (no whitespace, quotes, `\`, `%` or `$`, which they would split
/// or expand).
fn check_bin(bin: &str) -> anyhow::Result<()> {
    if !bin.starts_with('/') {
        bail!("--bin {bin:?}: must be an absolute path");
    }
    if let Some(c) = bin
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "\"'\\%$;".contains(*c))
    {
        bail!("--bin {bin:?}: {c:?} cannot appear in an Exec= line");
    }
    Ok(())
}

/// The text of `file` with `bin` as the vifkit path.
pub fn render(file: &ServiceFile, bin: &str) -> String {
    let mut out = String::with_capacity(file.text.len());
    for line in file.text.split_inclusive('\n') {
        match line
            .strip_prefix("Exec=")
            .map(|r| ("Exec=", r))
            .or_else(|| line.strip_prefix("ExecStart=").map(|r| ("ExecStart=", r)))
        {
            Some((key, rest))
                if rest
                    .strip_prefix(DEFAULT_BIN)
                    .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\n'])) =>
            {
                out.push_str(key);
                out.push_str(bin);
                out.push_str(&rest[DEFAULT_BIN.len()..]);
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// What installing one file does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Create,
    Unchanged,
    Replace,
}

/// `vifkit install-service`: installs [`all_files`] under `root` with `bin` as the vifkit
/// path. Prints one line per file (`wrote`, `unchanged` or `replaced`, and the path).
pub fn run(
    report: &mut Report,
    root: &Path,
    unit_dir: Option<&Path>,
    bin: &str,
    force: bool,
) -> Result<String, Failure> {
    check_bin(bin)?;
    let unit_dir = self::unit_dir(unit_dir)?;
    let meta =
        fs::metadata(root).with_context(|| format!("--root {}: cannot use it", root.display()))?;
    if !meta.is_dir() {
        return Err(anyhow::anyhow!("--root {}: not a directory", root.display()).into());
    }
    let installed_bin = root.join(bin.trim_start_matches('/'));
    if !installed_bin.is_file() {
        report.warn(format!(
            "{} does not exist: the service cannot start until vifkit is installed there \
             (give its installed path with --bin)",
            installed_bin.display()
        ));
    }

    // Decide everything before writing anything: a refusal leaves every file as it was.
    let mut plan: Vec<(PathBuf, String, Action)> = Vec::new();
    let mut conflicts = Vec::new();
    for file in all_files() {
        let dest = file.path(root, &unit_dir);
        let text = render(file, bin);
        let action = match fs::read(&dest) {
            Ok(old) if old == text.as_bytes() => Action::Unchanged,
            Ok(_) if force => Action::Replace,
            Ok(_) => {
                conflicts.push(format!(
                    "{} exists and differs from the file this vifkit installs (edited by an \
                     administrator?): nothing was written; --force replaces it",
                    dest.display()
                ));
                Action::Unchanged
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Action::Create,
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("Cannot read {}", dest.display()))
                    .into())
            }
        };
        plan.push((dest, text, action));
    }
    if !conflicts.is_empty() {
        return Err(Failure::Invalid(conflicts));
    }

    let mut out = String::new();
    for (dest, text, action) in &plan {
        let verb = match action {
            Action::Unchanged => "unchanged",
            Action::Create => {
                if let Some(dir) = dest.parent() {
                    fs::create_dir_all(dir)
                        .with_context(|| format!("Cannot create {}", dir.display()))?;
                }
                create_atomic(dest, text.as_bytes(), 0o644)?;
                "wrote"
            }
            Action::Replace => {
                write_atomic(dest, text.as_bytes())?;
                "replaced"
            }
        };
        let _ = writeln!(out, "{verb} {}", dest.display());
    }
    Ok(out)
}

/// `vifkit uninstall-service`: removes the files [`run`] installs (with `bin` as the
/// vifkit path) that are exactly as it installs them; a file with other content is an
/// administrator's and stays (a warning says so). Prints one `removed` line per file.
pub fn uninstall(
    report: &mut Report,
    root: &Path,
    unit_dir: Option<&Path>,
    bin: &str,
) -> Result<String, Failure> {
    check_bin(bin)?;
    let unit_dir = self::unit_dir(unit_dir)?;
    let mut out = String::new();
    // The reverse of the install order: activation goes before the policy.
    for file in all_files().rev() {
        let dest = file.path(root, &unit_dir);
        match fs::read(&dest) {
            Ok(old) if old == render(file, bin).as_bytes() => {
                fs::remove_file(&dest)
                    .with_context(|| format!("Cannot remove {}", dest.display()))?;
                let _ = writeln!(out, "removed {}", dest.display());
            }
            Ok(_) => report.warn(format!(
                "{} differs from the file this vifkit installs (edited by an administrator?): \
                 left in place",
                dest.display()
            )),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("Cannot read {}", dest.display()))
                    .into())
            }
        }
    }
    // The page's directory is vifkit's own: gone once empty (an edited file keeps it).
    let page_dir = root.join(COCKPIT_DIR);
    if fs::remove_dir(&page_dir).is_ok() {
        let _ = writeln!(out, "removed {}", page_dir.display());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_names_the_default_bin_where_render_replaces_it() {
        for f in all_files() {
            let r = render(f, "/opt/vifkit/bin/vifkit");
            let (name, execs) = match f.dest {
                Dest::Fixed(p) => (p, p.ends_with(".service")),
                Dest::Unit(n) => (n, true),
            };
            assert_eq!(r.contains("=/opt/vifkit/bin/vifkit "), execs, "{name}");
            assert_eq!(f.text.contains("=/usr/bin/vifkit "), execs, "{name}");
            assert!(!r.contains("=/usr/bin/vifkit "), "{name}");
            assert_eq!(render(f, DEFAULT_BIN), f.text);
        }
    }

    #[test]
    fn render_touches_only_exec_lines() {
        let f = ServiceFile {
            dest: Dest::Fixed("x.service"),
            text:
                "# runs /usr/bin/vifkit\nExec=/usr/bin/vifkit serve\nExecStart=/usr/bin/vifkitx\n",
        };
        assert_eq!(
            render(&f, "/b/v"),
            "# runs /usr/bin/vifkit\nExec=/b/v serve\nExecStart=/usr/bin/vifkitx\n"
        );
    }

    #[test]
    fn units_go_to_the_unit_dir_under_the_root() {
        let f = FILES
            .iter()
            .find(|f| matches!(f.dest, Dest::Unit("vifkit-boot.service")))
            .unwrap();
        assert_eq!(
            f.path(Path::new("/r"), Path::new("/usr/lib/systemd/system")),
            Path::new("/r/usr/lib/systemd/system/vifkit-boot.service")
        );
        assert!(unit_dir(Some(Path::new("lib"))).is_err());
    }

    #[test]
    fn bin_must_be_one_absolute_word() {
        assert!(check_bin("/usr/local/bin/vifkit").is_ok());
        for bad in ["vifkit", "/a b", "/a%i", "/a\"b", "/a$x", "/a\nb", ""] {
            assert!(check_bin(bad).is_err(), "{bad:?}");
        }
    }
}
