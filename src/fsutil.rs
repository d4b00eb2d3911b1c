//! Writing files as carefully as an editor: a reader sees the old content or the new,
//! never half of either, and the file keeps what it was (target of a link, mode, owner,
//! group, extended attributes and ACLs).
//!
//! The new content goes to a temporary file beside the target, created with no access
//! for group and others from its first byte, written and synced, then given the
//! original's owner, group, extended attributes (ACLs are among them) and mode, and
//! renamed over it; the directory is synced. A temporary file a killed writer left
//! behind (`.NAME.vifkit-PID.tmp` whose process is gone) is removed by the next write
//! to the same file.

use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Replaces the file at `path` with `data`. A symbolic link is followed: its target is
/// replaced, in the target's directory, and the link stays. A file with more than one
/// hard link is refused (a rename would split it in two). On any failure the original
/// is untouched and the temporary file is removed.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let target = fs::canonicalize(path)
        .with_context(|| format!("Cannot find the file {} names", path.display()))?;
    let meta =
        fs::metadata(&target).with_context(|| format!("Cannot read {}", target.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", target.display());
    }
    if meta.nlink() > 1 {
        bail!(
            "{} has {} hard links: replacing it would leave the others with the old \
             content; edit it another way or remove the other links",
            target.display(),
            meta.nlink()
        );
    }
    let xattrs = read_xattrs(&target)?;
    put_atomic(&target, data, &Keep::Original { meta, xattrs }, "replace")
}

/// Creates `path` (which should not exist yet) with `data` and permissions `mode`, as
/// atomically as [`write_atomic`] replaces one: a reader finds no file or the whole one.
pub fn create_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    put_atomic(path, data, &Keep::Mode(mode), "create")
}

/// What the new file takes over.
enum Keep {
    /// The original's mode, owner, group and extended attributes.
    Original {
        meta: fs::Metadata,
        xattrs: Vec<(CString, Vec<u8>)>,
    },
    /// A new file's mode.
    Mode(u32),
}

/// The temporary file's name prefix and suffix for `name`: `.NAME.vifkit-` and `.tmp`.
fn tmp_parts(name: &OsStr) -> (OsString, &'static str) {
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".vifkit-");
    (prefix, ".tmp")
}

fn put_atomic(path: &Path, data: &[u8], keep: &Keep, verb: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let (prefix, suffix) = tmp_parts(name);
    remove_stale(dir, &prefix, suffix);
    let mut tmp_name = prefix;
    tmp_name.push(format!("{}{suffix}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| -> Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .with_context(|| format!("Cannot create {}", tmp.display()))?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("Cannot write {}", tmp.display()))?;
        let mode = match keep {
            Keep::Original { meta, xattrs } => {
                std::os::unix::fs::fchown(&f, Some(meta.uid()), Some(meta.gid())).with_context(
                    || {
                        format!(
                            "Cannot give {} the owner {} and group {} of {}",
                            tmp.display(),
                            meta.uid(),
                            meta.gid(),
                            path.display()
                        )
                    },
                )?;
                for (key, value) in xattrs {
                    set_xattr(&f, key, value).with_context(|| {
                        format!(
                            "Cannot keep the extended attribute {} of {} (an ACL or a \
                             security label): {} was left unchanged",
                            key.to_string_lossy(),
                            path.display(),
                            path.display()
                        )
                    })?;
                }
                meta.permissions().mode()
            }
            Keep::Mode(m) => *m,
        };
        // After the owner: chown clears set-id bits.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .with_context(|| format!("Cannot set permissions on {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("Cannot write {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("Cannot {verb} {}", path.display()))?;
        // Make the rename itself durable.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes the temporary files of writers of this file that are gone (killed mid-write).
fn remove_stale(dir: &Path, prefix: &OsStr, suffix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .as_bytes()
            .strip_prefix(prefix.as_bytes())
            .and_then(|rest| rest.strip_suffix(suffix.as_bytes()))
            .and_then(|pid| std::str::from_utf8(pid).ok())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs::remove_file(dir.join(&name));
        }
    }
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .with_context(|| format!("{} contains a NUL byte", path.display()))
}

/// Every extended attribute of `path` (without following a link): names and values.
fn read_xattrs(path: &Path) -> Result<Vec<(CString, Vec<u8>)>> {
    let cpath = c_path(path)?;
    let err = |what: &str| {
        let e = std::io::Error::last_os_error();
        anyhow::anyhow!(
            "Cannot read the extended attributes of {} ({what}): {e}",
            path.display()
        )
    };
    // SAFETY: a valid C path; a null buffer of size 0 asks for the size only.
    let size = unsafe { libc::llistxattr(cpath.as_ptr(), std::ptr::null_mut(), 0) };
    if size < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOTSUP) {
            return Ok(Vec::new());
        }
        return Err(err("list"));
    }
    let mut names = vec![0u8; usize::try_from(size).unwrap_or(0)];
    // SAFETY: `names` is writable for its length.
    let got = unsafe { libc::llistxattr(cpath.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if got < 0 {
        return Err(err("list"));
    }
    names.truncate(usize::try_from(got).unwrap_or(0));
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let key = CString::new(name).expect("split at NUL bytes");
        // SAFETY: valid C strings; a null buffer of size 0 asks for the size only.
        let len = unsafe { libc::lgetxattr(cpath.as_ptr(), key.as_ptr(), std::ptr::null_mut(), 0) };
        if len < 0 {
            return Err(err("read"));
        }
        let mut value = vec![0u8; usize::try_from(len).unwrap_or(0)];
        // SAFETY: `value` is writable for its length.
        let got = unsafe {
            libc::lgetxattr(
                cpath.as_ptr(),
                key.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        if got < 0 {
            return Err(err("read"));
        }
        value.truncate(usize::try_from(got).unwrap_or(0));
        out.push((key, value));
    }
    Ok(out)
}

fn set_xattr(f: &fs::File, key: &CString, value: &[u8]) -> std::io::Result<()> {
    // SAFETY: an open descriptor, a valid C string and a readable buffer of its length.
    let rc = unsafe {
        libc::fsetxattr(
            f.as_raw_fd(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The temporary files a write to `path` would leave or clean (for tests).
#[cfg(test)]
fn temporaries(path: &Path) -> Vec<std::path::PathBuf> {
    let dir = path.parent().unwrap();
    let (prefix, suffix) = tmp_parts(path.file_name().unwrap());
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().as_bytes();
            n.starts_with(prefix.as_bytes()) && n.ends_with(suffix.as_bytes())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_is_followed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("guest.cfg");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("guest.cfg");
        std::os::unix::fs::symlink("real/guest.cfg", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "new");
        assert!(temporaries(&real).is_empty());
        assert!(temporaries(&link).is_empty());
    }

    #[test]
    fn mode_is_kept_and_a_hard_linked_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.cfg");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o640
        );
        let q = dir.path().join("b.cfg");
        fs::hard_link(&p, &q).unwrap();
        let e = write_atomic(&p, b"newer").unwrap_err();
        assert!(format!("{e:#}").contains("2 hard links"), "{e:#}");
        assert_eq!(fs::read_to_string(&q).unwrap(), "new");
    }

    #[test]
    fn extended_attributes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.cfg");
        fs::write(&p, "old").unwrap();
        let f = fs::File::open(&p).unwrap();
        let key = CString::new("user.vifkit-test").unwrap();
        if let Err(e) = set_xattr(&f, &key, b"kept") {
            // tmpfs without user xattrs: nothing to keep, and nothing to test here.
            assert_eq!(e.raw_os_error(), Some(libc::ENOTSUP), "{e}");
            return;
        }
        write_atomic(&p, b"new").unwrap();
        let got = read_xattrs(&p).unwrap();
        assert!(got.contains(&(key, b"kept".to_vec())), "{got:?}");
    }

    #[test]
    fn a_dead_writers_temporary_file_is_removed_and_a_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.cfg");
        fs::write(&p, "old").unwrap();
        // No process has a pid above the kernel's pid_max (at most 2^22).
        let dead = dir.path().join(".g.cfg.vifkit-99999999.tmp");
        // Process 1 is always there: its file is someone's write in progress.
        let live = dir.path().join(".g.cfg.vifkit-1.tmp");
        fs::write(&dead, "half").unwrap();
        fs::write(&live, "not ours").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert!(!dead.exists());
        assert!(live.exists());
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
    }
}
