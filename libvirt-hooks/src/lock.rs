//! One host-wide lock around the decisions that make or remove bridges: a `prepare`
//! claiming and making its bridges, and a `stopped` finding a bridge unused and removing
//! it, never interleave, so a bridge is never removed under a guest that is starting on
//! it (its claim, in the registry, is seen or the bridge is made again).
//!
//! The lock file lives in a directory of root's own, [`LOCK_DIR`] (made `0700` when
//! missing), so no other user can hold it or put a file or a link in its place: a
//! directory that is a symbolic link, is someone else's or lets others in is refused, as
//! is a lock file that is a symbolic link (opened with `O_NOFOLLOW`, relative to the
//! checked directory). Waiting is bounded: after [`LOCK_TIMEOUT`] the hook fails with an
//! error naming the file and, when `/proc/locks` tells, the process holding it.

use std::ffi::CString;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The directory of vifkit's locks.
pub const LOCK_DIR: &str = "/run/vifkit";

/// The bridge lock's file in [`LOCK_DIR`].
const LOCK_FILE: &str = "bridges.lock";

/// How long a hook waits for the lock before it fails.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// A process holding a lock, as `/proc/locks` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id (in the namespace `/proc` is mounted for).
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`), when it could be read.
    pub command: Option<String>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if let Some(c) = &self.command {
            write!(f, " ({c})")?;
        }
        Ok(())
    }
}

/// Why the bridge lock could not be taken. Each message names the path and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock directory could not be made.
    #[error("cannot create the lock directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The lock directory is a symbolic link (which could point anywhere).
    #[error(
        "{} is a symbolic link, not vifkit's lock directory: remove it (vifkit makes the \
         directory again, 0700)",
        path.display()
    )]
    DirIsSymlink {
        /// The directory's path.
        path: PathBuf,
    },
    /// The lock directory's path is not a directory.
    #[error(
        "{} is not a directory: remove it (vifkit makes the lock directory again, 0700)",
        path.display()
    )]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
    /// The lock directory belongs to another user, who could replace the lock.
    #[error(
        "lock directory {} is owned by uid {owner}, not by uid {uid} that runs vifkit: \
         remove it (vifkit makes it again, 0700)",
        path.display()
    )]
    DirOwner {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's effective user id.
        uid: u32,
    },
    /// The lock directory lets other users in.
    #[error(
        "lock directory {} has mode {mode:04o}, which lets other users in: `chmod 700` it",
        path.display()
    )]
    DirMode {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The lock file is a symbolic link: never followed.
    #[error("lock file {} is a symbolic link: remove it", path.display())]
    FileIsSymlink {
        /// The lock file.
        path: PathBuf,
    },
    /// The lock file is not a regular file of this user's.
    #[error(
        "lock file {} is not a regular file owned by uid {uid}: remove it",
        path.display()
    )]
    BadFile {
        /// The lock file.
        path: PathBuf,
        /// This process's effective user id.
        uid: u32,
    },
    /// A system call on the lock's directory or file failed.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The directory or file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Another process held the lock for the whole wait.
    #[error(
        "lock file {} is still held{} after {:.1} s: another vifkit hook is running or \
         stuck; it is released when the holder exits",
        path.display(),
        holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default(),
        waited.as_secs_f32()
    )]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// How long it waited.
        waited: Duration,
        /// Who holds it, when `/proc/locks` tells.
        holder: Option<Holder>,
    },
}

/// The held lock; released when dropped (closing the file releases `flock`).
#[derive(Debug)]
pub(super) struct BridgeLock {
    /// Held only to be closed on drop.
    _file: File,
}

#[cfg(test)]
thread_local! {
    /// Tests of the callers point the lock elsewhere (this thread only).
    pub(crate) static TEST_DIR: std::cell::RefCell<Option<PathBuf>> =
        const { std::cell::RefCell::new(None) };
}

impl BridgeLock {
    /// Takes the lock in [`LOCK_DIR`], waiting up to [`LOCK_TIMEOUT`].
    pub(super) fn take() -> Result<BridgeLock, LockError> {
        #[cfg(test)]
        if let Some(dir) = TEST_DIR.with(|d| d.borrow().clone()) {
            return BridgeLock::take_in(&dir, LOCK_TIMEOUT);
        }
        BridgeLock::take_in(Path::new(LOCK_DIR), LOCK_TIMEOUT)
    }

    /// Takes the lock file in `dir` (made `0700` if missing; refused unless it is a
    /// directory of this user's that no one else may enter), waiting up to `timeout`.
    fn take_in(dir: &Path, timeout: Duration) -> Result<BridgeLock, LockError> {
        let dir_fd = open_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let file = open_file(&dir_fd, &path)?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            // SAFETY: flock(2) on a descriptor `file` owns and keeps open while the lock
            // is held; no memory is passed.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                return Ok(BridgeLock { _file: file });
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => {}
                Some(libc::EINTR) => continue,
                _ => {
                    return Err(LockError::Io {
                        op: "lock",
                        path,
                        source: e,
                    })
                }
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(LockError::Timeout {
                    holder: holder(&file),
                    path,
                    waited,
                });
            }
            std::thread::sleep(pause.min(timeout - waited));
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

/// This process's effective user id.
fn euid() -> u32 {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    unsafe { libc::geteuid() }
}

/// Makes `dir` (`0700`) when missing, opens it without following a symbolic link, and
/// checks, on the open descriptor, that it is a directory of this user's that no other
/// user may enter.
fn open_dir(dir: &Path) -> Result<File, LockError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => {
            return Err(LockError::CreateDir {
                path: dir.to_owned(),
                source,
            })
        }
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(dir)
        .map_err(|source| match source.raw_os_error() {
            Some(libc::ELOOP) => LockError::DirIsSymlink {
                path: dir.to_owned(),
            },
            Some(libc::ENOTDIR) if is_symlink(dir) => LockError::DirIsSymlink {
                path: dir.to_owned(),
            },
            Some(libc::ENOTDIR) => LockError::NotADirectory {
                path: dir.to_owned(),
            },
            _ => LockError::Io {
                op: "open the lock directory",
                path: dir.to_owned(),
                source,
            },
        })?;
    let meta = file.metadata().map_err(|source| LockError::Io {
        op: "look at the lock directory",
        path: dir.to_owned(),
        source,
    })?;
    let uid = euid();
    if meta.uid() != uid {
        return Err(LockError::DirOwner {
            path: dir.to_owned(),
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(LockError::DirMode {
            path: dir.to_owned(),
            mode,
        });
    }
    Ok(file)
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Opens (creating it `0600`) the lock file in the checked directory, without following
/// a symbolic link, and checks it is a regular file of this user's.
fn open_file(dir: &File, path: &Path) -> Result<File, LockError> {
    let name = CString::new(LOCK_FILE).map_err(|e| LockError::Io {
        op: "name",
        path: path.to_owned(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: openat(2) relative to a directory descriptor `dir` keeps open, with a
    // NUL-terminated name that outlives the call.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, 0o600) };
    if fd < 0 {
        let source = io::Error::last_os_error();
        return Err(match source.raw_os_error() {
            Some(libc::ELOOP) => LockError::FileIsSymlink {
                path: path.to_owned(),
            },
            _ => LockError::Io {
                op: "open the lock file",
                path: path.to_owned(),
                source,
            },
        });
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let meta = file.metadata().map_err(|source| LockError::Io {
        op: "look at the lock file",
        path: path.to_owned(),
        source,
    })?;
    let uid = euid();
    if !meta.is_file() || meta.uid() != uid {
        return Err(LockError::BadFile {
            path: path.to_owned(),
            uid,
        });
    }
    Ok(file)
}

/// Who holds an `flock` on `file`, from `/proc/locks` (`ID: FLOCK ADVISORY WRITE PID
/// MAJ:MIN:INODE START END`, the device numbers in hex).
fn holder(file: &File) -> Option<Holder> {
    let meta = file.metadata().ok()?;
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let pid = holder_in(
        &locks,
        libc::major(meta.dev()),
        libc::minor(meta.dev()),
        meta.ino(),
    )?;
    let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim_end().to_owned());
    Some(Holder { pid, command })
}

fn holder_in(locks: &str, major: u32, minor: u32, ino: u64) -> Option<u32> {
    locks.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // A waiter's line has `->` after the id.
        if f.len() < 6 || f[1] != "FLOCK" {
            return None;
        }
        let mut id = f[5].split(':');
        let maj = u32::from_str_radix(id.next()?, 16).ok()?;
        let min = u32::from_str_radix(id.next()?, 16).ok()?;
        let i: u64 = id.next()?.parse().ok()?;
        (maj == major && min == minor && i == ino)
            .then(|| f[4].parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::process::{Child, Command, Stdio};

    use super::*;

    /// A fresh lock directory of this user's, `0700`.
    fn lock_dir() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vifkit");
        (tmp, dir)
    }

    fn try_lock(file: &File) -> bool {
        // SAFETY: flock(2) on a descriptor `file` owns; no memory is passed.
        unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    }

    #[test]
    fn a_missing_directory_is_made_0700_and_the_lock_excludes_another_holder() {
        let (_tmp, dir) = lock_dir();
        let held = BridgeLock::take_in(&dir, Duration::ZERO).unwrap();
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o700);
        assert_eq!(meta.uid(), euid());
        let path = dir.join(LOCK_FILE);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let other = File::options().write(true).open(&path).unwrap();
        assert!(!try_lock(&other), "a second holder got the lock");
        drop(held);
        assert!(try_lock(&other), "the lock was not released");
    }

    /// `flock FILE` in a child process that holds the lock until its stdin closes; it
    /// says `ready` once it holds it.
    fn hold_in_child(path: &Path) -> Child {
        let mut child = Command::new("flock")
            .arg(path)
            .args(["sh", "-c", "echo ready; exec cat >/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("flock(1) from util-linux runs");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        child
    }

    #[test]
    fn a_lock_held_by_another_process_times_out_naming_the_file_and_the_holder() {
        let (_tmp, dir) = lock_dir();
        drop(BridgeLock::take_in(&dir, Duration::ZERO).unwrap());
        let path = dir.join(LOCK_FILE);
        let mut child = hold_in_child(&path);
        let err = BridgeLock::take_in(&dir, Duration::from_millis(100)).unwrap_err();
        let LockError::Timeout {
            path: p,
            waited,
            holder,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(p, &path);
        assert!(*waited >= Duration::from_millis(100), "{waited:?}");
        let holder = holder.clone().expect("/proc/locks names the holder");
        assert_eq!(holder.pid, child.id());
        assert_eq!(holder.command.as_deref(), Some("flock"));
        assert_eq!(
            err.to_string(),
            format!(
                "lock file {} is still held by pid {} (flock) after {:.1} s: another vifkit \
                 hook is running or stuck; it is released when the holder exits",
                path.display(),
                child.id(),
                waited.as_secs_f32()
            )
        );
        // Released when the holder ends: taken at once.
        drop(child.stdin.take());
        child.wait().unwrap();
        BridgeLock::take_in(&dir, Duration::ZERO).unwrap();
    }

    #[test]
    fn a_symlinked_lock_file_is_refused_and_its_target_left_alone() {
        let (tmp, dir) = lock_dir();
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        let target = tmp.path().join("elsewhere");
        symlink(&target, dir.join(LOCK_FILE)).unwrap();
        let err = BridgeLock::take_in(&dir, Duration::ZERO).unwrap_err();
        assert!(matches!(err, LockError::FileIsSymlink { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "lock file {} is a symbolic link: remove it",
                dir.join(LOCK_FILE).display()
            )
        );
        assert!(!target.exists());
    }

    #[test]
    fn a_lock_directory_others_could_touch_is_refused() {
        let (tmp, dir) = lock_dir();
        // A symbolic link to a directory (of this user's, 0700: still refused).
        let real = tmp.path().join("real");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&real)
            .unwrap();
        symlink(&real, &dir).unwrap();
        let err = BridgeLock::take_in(&dir, Duration::ZERO).unwrap_err();
        assert!(matches!(err, LockError::DirIsSymlink { .. }), "{err:?}");
        assert!(!real.join(LOCK_FILE).exists());
        std::fs::remove_file(&dir).unwrap();
        // A file.
        std::fs::write(&dir, b"").unwrap();
        let err = BridgeLock::take_in(&dir, Duration::ZERO).unwrap_err();
        assert!(matches!(err, LockError::NotADirectory { .. }), "{err:?}");
        std::fs::remove_file(&dir).unwrap();
        // A directory others may enter.
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let err = BridgeLock::take_in(&dir, Duration::ZERO).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "lock directory {} has mode 1777, which lets other users in: `chmod 700` it",
                dir.display()
            )
        );
        assert!(!dir.join(LOCK_FILE).exists());
    }

    #[test]
    #[ignore = "needs root: chown to another user"]
    fn a_lock_directory_of_another_user_is_refused() {
        assert_eq!(
            euid(),
            0,
            "needs root to chown: run as root, as tests/run.sh does"
        );
        let (_tmp, dir) = lock_dir();
        std::fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let err = BridgeLock::take_in(&dir, Duration::ZERO).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "lock directory {} is owned by uid 65534, not by uid 0 that runs vifkit: \
                 remove it (vifkit makes it again, 0700)",
                dir.display()
            )
        );
        assert!(!dir.join(LOCK_FILE).exists());
    }

    #[test]
    fn proc_locks_lines_name_the_holder() {
        let locks = "1: POSIX  ADVISORY  WRITE 77 00:1a:12 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 4242 fd:01:123456 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 99 fd:01:123456 0 EOF\n";
        assert_eq!(holder_in(locks, 0xfd, 1, 123_456), Some(4242));
        assert_eq!(holder_in(locks, 0xfd, 1, 123_457), None);
        assert_eq!(holder_in(locks, 0, 0x1a, 12), None);
    }
}
