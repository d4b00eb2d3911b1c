//! One host-wide lock around the decisions that make or remove bridges: a `prepare`
//! claiming and making its bridges, and a `stopped` finding a bridge unused and removing
//! it, never interleave, so a bridge is never removed under a guest that is starting on
//! it (its claim, in the registry, is seen or the bridge is made again).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Where the lock lives: `/run/lock` where there is one, else the temporary directory.
fn path() -> PathBuf {
    let dir = Path::new("/run/lock");
    let dir = if dir.is_dir() {
        dir.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    dir.join("vifkit-bridges.lock")
}

/// The held lock; released when dropped (closing the file releases `flock`).
#[derive(Debug)]
pub(super) struct BridgeLock {
    /// Held only to be closed on drop.
    _file: File,
}

impl BridgeLock {
    /// Waits for the lock. A lock file that cannot be opened or locked is an error the
    /// caller reports; the hook then goes on without it (the race it closes is rare).
    pub(super) fn take() -> std::io::Result<BridgeLock> {
        BridgeLock::take_at(&path())
    }

    fn take_at(path: &Path) -> std::io::Result<BridgeLock> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        loop {
            // SAFETY: flock(2) on a descriptor this File owns and keeps open for the
            // lifetime of the lock; no memory is passed.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(BridgeLock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_excludes_another_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bridges.lock");
        let held = BridgeLock::take_at(&path).unwrap();
        let other = File::options().write(true).open(&path).unwrap();
        // SAFETY: flock(2) on a descriptor `other` owns; no memory is passed.
        let rc = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(rc, -1, "a second holder got the lock");
        drop(held);
        // SAFETY: as above.
        let rc = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(rc, 0, "the lock was not released");
    }
}
