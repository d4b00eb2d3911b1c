//! Whether the registry's file can be used, and why not: looked at before SQLite opens
//! it (so a dangling symbolic link or a directory is named as such, and a missing file
//! is told apart from an unreachable one), and again when SQLite fails, to say "disk
//! full" or "read-only file system" instead of SQLite's words.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use super::SCHEMA_VERSION;
use crate::RegistryError;

/// Why the registry's file cannot be used ([`RegistryError::Unusable`]). Each message
/// says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileProblem {
    /// The file, or a directory on its path, may not be read (or, to write, written)
    /// by this user.
    PermissionDenied,
    /// The file or a directory on its path is a symbolic link to nothing.
    DanglingSymlink {
        /// The link.
        link: PathBuf,
        /// What it points to.
        target: PathBuf,
    },
    /// Symbolic links on the path point at each other.
    SymlinkLoop,
    /// A component of the path is a file, not a directory.
    NotADirectory,
    /// The path is a directory.
    Directory,
    /// The path is a device, a socket or a pipe.
    NotAFile,
    /// The file is empty: whatever was there is gone, and an empty file is not
    /// silently made into a new registry.
    Empty,
    /// The file system is mounted read-only.
    ReadOnlyFs,
    /// The file system is full.
    DiskFull,
    /// The database's `-wal` and `-shm` files are missing and this user may not create
    /// them (SQLite needs them to read a WAL database).
    NoWalFiles,
    /// The schema is older than this build's, and cannot be migrated by this user.
    NeedsMigration {
        /// The file's schema version.
        found: i64,
        /// What stops the migration.
        blocked: Box<FileProblem>,
    },
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::PermissionDenied => f.write_str("permission denied (root needed?)"),
            FileProblem::DanglingSymlink { link, target } => write!(
                f,
                "{} is a symbolic link to {}, which does not exist: fix or remove the link",
                link.display(),
                target.display()
            ),
            FileProblem::SymlinkLoop => f.write_str(
                "too many levels of symbolic links (a loop?): fix the links on its path",
            ),
            FileProblem::NotADirectory => {
                f.write_str("a component of its path is a file, not a directory")
            }
            FileProblem::Directory => f.write_str(
                "it is a directory, not a registry file (give the path of the file inside)",
            ),
            FileProblem::NotAFile => f.write_str("it is not a regular file"),
            FileProblem::Empty => f.write_str(
                "the file is empty (0 bytes), so it holds no registry: restore it from a \
                 backup, or remove it to start an empty registry",
            ),
            FileProblem::ReadOnlyFs => f.write_str(
                "read-only file system: remount it read-write, or put the registry on another \
                 one (--db, VIFKIT_DB)",
            ),
            FileProblem::DiskFull => f.write_str("disk full: free some space on its file system"),
            FileProblem::NoWalFiles => f.write_str(
                "its -wal and -shm files are missing and this user may not create them: run \
                 `vifkit bridge list` once as root",
            ),
            FileProblem::NeedsMigration { found, blocked } => write!(
                f,
                "its schema version {found} must be migrated to version {SCHEMA_VERSION} \
                 before it can be read, and that needs writing it: {blocked}"
            ),
        }
    }
}

/// What [`probe`] found at the registry's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Found {
    /// Nothing: no file, no symbolic link (a host where nothing was registered yet).
    Missing,
    /// A regular file with something in it, which this user may read (and, when asked,
    /// write).
    File,
}

/// Looks at the registry's path before SQLite opens it. `write`: whether this user
/// must be able to write the file too.
pub(super) fn probe(path: &Path, write: bool) -> Result<Found, RegistryError> {
    let unusable = |problem| RegistryError::Unusable {
        path: path.to_owned(),
        problem,
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let target = std::fs::read_link(path).unwrap_or_default();
                return Err(unusable(dangling(path, target)));
            }
            Err(e) => return Err(unusable(io_problem(&e).unwrap_or(FileProblem::NotAFile))),
        },
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return match dangling_ancestor(path) {
                Some(problem) => Err(unusable(problem)),
                None => Ok(Found::Missing),
            };
        }
        Err(e) => {
            return Err(match io_problem(&e) {
                Some(problem) => unusable(problem),
                None => RegistryError::Io {
                    path: path.to_owned(),
                    op: "looking at the file",
                    source: e,
                },
            })
        }
    };
    if meta.is_dir() {
        return Err(unusable(FileProblem::Directory));
    }
    if !meta.is_file() {
        return Err(unusable(FileProblem::NotAFile));
    }
    if meta.len() == 0 {
        return Err(unusable(FileProblem::Empty));
    }
    if let Err(e) = access(
        path,
        if write {
            libc::R_OK | libc::W_OK
        } else {
            libc::R_OK
        },
    ) {
        if let Some(problem) = io_problem(&e) {
            return Err(unusable(problem));
        }
    }
    Ok(Found::File)
}

fn dangling(link: &Path, target: PathBuf) -> FileProblem {
    FileProblem::DanglingSymlink {
        link: link.to_owned(),
        target,
    }
}

/// A missing path's nearest existing ancestor, when it is a symbolic link to nothing
/// (`/var/lib/vifkit -> /srv/gone`): the path is then unreachable, not missing.
fn dangling_ancestor(path: &Path) -> Option<FileProblem> {
    for dir in path.ancestors().skip(1) {
        if dir.as_os_str().is_empty() {
            return None;
        }
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return match std::fs::metadata(dir) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        Some(dangling(dir, std::fs::read_link(dir).unwrap_or_default()))
                    }
                    _ => None,
                };
            }
            Ok(_) => return None,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return io_problem(&e),
        }
    }
    None
}

/// `faccessat(2)` with the effective ids: whether this process may read (write) `path`.
fn access(path: &Path, mode: libc::c_int) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a NUL-terminated string that outlives the call; faccessat only
    // reads it.
    let rc = unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), mode, libc::AT_EACCESS) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The problem an OS error names, for the errors that have one.
pub(super) fn io_problem(e: &io::Error) -> Option<FileProblem> {
    Some(match e.raw_os_error()? {
        libc::EACCES | libc::EPERM => FileProblem::PermissionDenied,
        libc::ELOOP => FileProblem::SymlinkLoop,
        libc::ENOTDIR => FileProblem::NotADirectory,
        libc::EISDIR => FileProblem::Directory,
        libc::EROFS => FileProblem::ReadOnlyFs,
        libc::ENOSPC | libc::EDQUOT => FileProblem::DiskFull,
        _ => return None,
    })
}

/// What the file system says about a SQLite failure at `path`, for the failures that
/// come from it: a full disk, a read-only file system, a file or directory this user
/// may not write, or (`read_only`: reading) `-wal`/`-shm` files that cannot be made.
/// `None` leaves SQLite's own error.
pub(super) fn sqlite_problem(
    path: &Path,
    e: &rusqlite::Error,
    read_only: bool,
) -> Option<FileProblem> {
    let code = e.sqlite_error_code()?;
    match code {
        ErrorCode::DiskFull => Some(FileProblem::DiskFull),
        ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::SystemIoFailure => {
            if let Err(Some(p)) = probe(path, !read_only).map_err(|e| match e {
                RegistryError::Unusable { problem, .. } => Some(problem),
                _ => None,
            }) {
                return Some(p);
            }
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            match access(dir, libc::W_OK) {
                Err(e) if e.raw_os_error() == Some(libc::EROFS) => Some(FileProblem::ReadOnlyFs),
                Err(e) if read_only && io_problem(&e) == Some(FileProblem::PermissionDenied) => {
                    let mut wal = path.as_os_str().to_owned();
                    wal.push("-wal");
                    let mut shm = path.as_os_str().to_owned();
                    shm.push("-shm");
                    (!Path::new(&wal).exists() || !Path::new(&shm).exists())
                        .then_some(FileProblem::NoWalFiles)
                }
                Err(e) if !read_only => io_problem(&e),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn problem(path: &Path, write: bool) -> FileProblem {
        match probe(path, write) {
            Err(RegistryError::Unusable { path: p, problem }) => {
                assert_eq!(p, path);
                problem
            }
            other => panic!("{}: {other:?}", path.display()),
        }
    }

    #[test]
    fn a_missing_file_is_missing_and_an_unreachable_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // Missing, even with missing directories on the way.
        assert_eq!(probe(&d.join("r.db"), true).unwrap(), Found::Missing);
        assert_eq!(probe(&d.join("a/b/r.db"), false).unwrap(), Found::Missing);
        // A dangling link, as the file or as a directory on the way.
        symlink(d.join("gone.db"), d.join("link.db")).unwrap();
        assert_eq!(
            problem(&d.join("link.db"), false),
            FileProblem::DanglingSymlink {
                link: d.join("link.db"),
                target: d.join("gone.db"),
            }
        );
        symlink(d.join("gone"), d.join("state")).unwrap();
        let p = problem(&d.join("state/vifkit/r.db"), true);
        assert_eq!(
            p.to_string(),
            format!(
                "{} is a symbolic link to {}, which does not exist: fix or remove the link",
                d.join("state").display(),
                d.join("gone").display()
            )
        );
        // A loop.
        symlink(d.join("loop2"), d.join("loop1")).unwrap();
        symlink(d.join("loop1"), d.join("loop2")).unwrap();
        assert_eq!(problem(&d.join("loop1"), false), FileProblem::SymlinkLoop);
        assert_eq!(
            problem(&d.join("loop1/r.db"), false),
            FileProblem::SymlinkLoop
        );
        // A directory, a file on the way, a 0-byte file, a FIFO.
        std::fs::create_dir(d.join("dir.db")).unwrap();
        assert_eq!(problem(&d.join("dir.db"), false), FileProblem::Directory);
        std::fs::write(d.join("file"), b"x").unwrap();
        assert_eq!(
            problem(&d.join("file/r.db"), false),
            FileProblem::NotADirectory
        );
        std::fs::write(d.join("empty.db"), b"").unwrap();
        assert_eq!(problem(&d.join("empty.db"), true), FileProblem::Empty);
        let fifo = CString::new(d.join("fifo").as_os_str().as_bytes()).unwrap();
        // SAFETY: a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert_eq!(problem(&d.join("fifo"), false), FileProblem::NotAFile);
        // A link to a file is that file.
        std::fs::write(d.join("real.db"), b"x").unwrap();
        symlink(d.join("real.db"), d.join("alias.db")).unwrap();
        assert_eq!(probe(&d.join("alias.db"), true).unwrap(), Found::File);
    }

    #[test]
    fn os_errors_name_their_problem() {
        let e = |n| io_problem(&io::Error::from_raw_os_error(n));
        assert_eq!(e(libc::EACCES), Some(FileProblem::PermissionDenied));
        assert_eq!(e(libc::EROFS), Some(FileProblem::ReadOnlyFs));
        assert_eq!(e(libc::ENOSPC), Some(FileProblem::DiskFull));
        assert_eq!(e(libc::EIO), None);
        assert_eq!(
            FileProblem::ReadOnlyFs.to_string(),
            "read-only file system: remount it read-write, or put the registry on another one \
             (--db, VIFKIT_DB)"
        );
        assert_eq!(
            FileProblem::DiskFull.to_string(),
            "disk full: free some space on its file system"
        );
        assert_eq!(
            FileProblem::PermissionDenied.to_string(),
            "permission denied (root needed?)"
        );
    }
}
