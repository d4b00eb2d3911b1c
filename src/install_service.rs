//! `vifkit install-service`: puts the D-Bus service's four files (packaging/dbus/) where
//! Debian's dbus, systemd and polkit look for them, under `--root`.
//!
//! The files are compiled into the binary, so the installed ones always match the
//! vifkit that installed them. The vifkit path is written into `Exec=` of the bus
//! activation file and `ExecStart=` of the unit. Installing is idempotent; a file that
//! exists with other content (an administrator's edit, or another vifkit version's) is
//! never silently replaced: the whole command is refused, nothing is written, and
//! `--force` replaces such files.

use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use crate::fsutil::{create_atomic, write_atomic};
use crate::report::{Failure, Report};

/// The vifkit path the shipped files name, replaced by `--bin`.
pub const DEFAULT_BIN: &str = "/usr/bin/vifkit";

/// One installed file: where it goes (relative to the root) and its shipped text.
#[derive(Debug, Clone, Copy)]
pub struct ServiceFile {
    /// The path under the root, without the leading `/`.
    pub path: &'static str,
    /// The file as shipped in packaging/dbus/ (naming [`DEFAULT_BIN`]).
    pub text: &'static str,
}

/// The four files, in the order they are written (policy before activation, so a bus
/// that reloads in between never has an activatable name it may not own).
pub const FILES: [ServiceFile; 4] = [
    ServiceFile {
        path: "usr/share/dbus-1/system.d/org.vifkit.conf",
        text: include_str!("../packaging/dbus/org.vifkit.conf"),
    },
    ServiceFile {
        path: "usr/share/polkit-1/actions/org.vifkit.policy",
        text: include_str!("../packaging/dbus/org.vifkit.policy"),
    },
    ServiceFile {
        path: "lib/systemd/system/vifkit.service",
        text: include_str!("../packaging/dbus/vifkit.service"),
    },
    ServiceFile {
        path: "usr/share/dbus-1/system-services/org.vifkit.service",
        text: include_str!("../packaging/dbus/org.vifkit.service"),
    },
];

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

/// `vifkit install-service`: installs [`FILES`] under `root` with `bin` as the vifkit
/// path. Prints one line per file (`wrote`, `unchanged` or `replaced`, and the path).
pub fn run(report: &mut Report, root: &Path, bin: &str, force: bool) -> Result<String, Failure> {
    check_bin(bin)?;
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
    let mut plan: Vec<(PathBuf, String, Action)> = Vec::with_capacity(FILES.len());
    let mut conflicts = Vec::new();
    for file in &FILES {
        let dest = root.join(file.path);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_names_the_default_bin_where_render_replaces_it() {
        for f in &FILES {
            let r = render(f, "/opt/vifkit/bin/vifkit");
            let execs = f.path.ends_with(".service");
            assert_eq!(
                r.contains("/opt/vifkit/bin/vifkit serve --system"),
                execs,
                "{}",
                f.path
            );
            assert_eq!(
                f.text.contains("/usr/bin/vifkit serve --system"),
                execs,
                "{}",
                f.path
            );
            assert!(!r.contains("/usr/bin/vifkit serve"), "{}", f.path);
            assert_eq!(render(f, DEFAULT_BIN), f.text);
        }
    }

    #[test]
    fn render_touches_only_exec_lines() {
        let f = ServiceFile {
            path: "x.service",
            text:
                "# runs /usr/bin/vifkit\nExec=/usr/bin/vifkit serve\nExecStart=/usr/bin/vifkitx\n",
        };
        assert_eq!(
            render(&f, "/b/v"),
            "# runs /usr/bin/vifkit\nExec=/b/v serve\nExecStart=/usr/bin/vifkitx\n"
        );
    }

    #[test]
    fn bin_must_be_one_absolute_word() {
        assert!(check_bin("/usr/local/bin/vifkit").is_ok());
        for bad in ["vifkit", "/a b", "/a%i", "/a\"b", "/a$x", "/a\nb", ""] {
            assert!(check_bin(bad).is_err(), "{bad:?}");
        }
    }
}
