//! xenstore access for the hotplug script, behind a trait: the real store runs Xen's
//! `xenstore-read`/`xenstore-write`/`xenstore-rm`, tests use a directory of key files.

use std::path::PathBuf;
use std::process::Command;

/// Why a xenstore access failed.
#[derive(Debug, thiserror::Error)]
pub enum XenStoreError {
    /// A path that is not a plain relative xenstore path.
    #[error("Invalid xenstore path `{0}`")]
    BadPath(String),
    /// The command or file access failed.
    #[error("Cannot {op} xenstore key {path}")]
    Io {
        /// read, write or remove.
        op: &'static str,
        /// The key.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A value that is not UTF-8.
    #[error("xenstore key {0} is not UTF-8")]
    NotUtf8(String),
}

/// The keys the hotplug script reads and writes.
pub trait XenStore {
    /// The value at `path`, `None` when the key does not exist.
    fn read(&self, path: &str) -> Result<Option<String>, XenStoreError>;
    /// Sets `path` to `value`.
    fn write(&self, path: &str, value: &str) -> Result<(), XenStoreError>;
    /// Removes `path` (no error when it does not exist).
    fn remove(&self, path: &str) -> Result<(), XenStoreError>;
}

/// A xenstore path as the hotplug script may use it: relative, or absolute under
/// `/local/domain/` (a domain's name and VM path); segments of `[A-Za-z0-9_.-]`, no `..`.
pub fn check_path(path: &str) -> Result<(), XenStoreError> {
    let rel = match path.strip_prefix('/') {
        Some(r) if r.starts_with("local/domain/") => r,
        Some(_) => return Err(XenStoreError::BadPath(path.to_owned())),
        None => path,
    };
    let ok = !rel.is_empty()
        && rel.split('/').all(|seg| {
            !seg.is_empty()
                && seg != ".."
                && seg != "."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        });
    if ok {
        Ok(())
    } else {
        Err(XenStoreError::BadPath(path.to_owned()))
    }
}

/// A directory of key files standing in for xenstore (`ROOT/backend/vif/5/2/bridge`).
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> DirStore {
        DirStore { root: root.into() }
    }
}

impl XenStore for DirStore {
    fn read(&self, path: &str) -> Result<Option<String>, XenStoreError> {
        check_path(path)?;
        match std::fs::read(self.root.join(path.trim_start_matches('/'))) {
            // A key file written by hand (`echo br0 > bridge`) ends with a newline that
            // is not part of the value.
            Ok(bytes) => String::from_utf8(bytes)
                .map(|mut s| {
                    if s.ends_with('\n') {
                        s.pop();
                    }
                    Some(s)
                })
                .map_err(|_| XenStoreError::NotUtf8(path.to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(XenStoreError::Io {
                op: "read",
                path: path.to_owned(),
                source,
            }),
        }
    }

    fn write(&self, path: &str, value: &str) -> Result<(), XenStoreError> {
        check_path(path)?;
        let file = self.root.join(path.trim_start_matches('/'));
        let io = |source| XenStoreError::Io {
            op: "write",
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(file, value).map_err(io)
    }

    fn remove(&self, path: &str) -> Result<(), XenStoreError> {
        check_path(path)?;
        match std::fs::remove_file(self.root.join(path.trim_start_matches('/'))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(XenStoreError::Io {
                op: "remove",
                path: path.to_owned(),
                source: e,
            }),
            _ => Ok(()),
        }
    }
}

/// The real xenstore, through Xen's `xenstore-read`, `xenstore-write`, `xenstore-rm`
/// (as Xen's own hotplug scripts do). Paths are checked before they reach a command,
/// and passed as separate arguments (no shell).
#[derive(Debug, Clone, Copy, Default)]
pub struct CommandStore;

impl CommandStore {
    fn run(
        op: &'static str,
        path: &str,
        cmd: &mut Command,
    ) -> Result<std::process::Output, XenStoreError> {
        cmd.output().map_err(|source| XenStoreError::Io {
            op,
            path: path.to_owned(),
            source,
        })
    }
}

impl XenStore for CommandStore {
    fn read(&self, path: &str) -> Result<Option<String>, XenStoreError> {
        check_path(path)?;
        let out = Self::run("read", path, Command::new("xenstore-read").arg(path))?;
        if !out.status.success() {
            // xenstore-read fails for a missing key.
            return Ok(None);
        }
        let mut s =
            String::from_utf8(out.stdout).map_err(|_| XenStoreError::NotUtf8(path.to_owned()))?;
        if s.ends_with('\n') {
            s.pop();
        }
        Ok(Some(s))
    }

    fn write(&self, path: &str, value: &str) -> Result<(), XenStoreError> {
        check_path(path)?;
        let out = Self::run(
            "write",
            path,
            Command::new("xenstore-write").arg(path).arg(value),
        )?;
        if out.status.success() {
            Ok(())
        } else {
            Err(XenStoreError::Io {
                op: "write",
                path: path.to_owned(),
                source: std::io::Error::other(
                    String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                ),
            })
        }
    }

    fn remove(&self, path: &str) -> Result<(), XenStoreError> {
        check_path(path)?;
        Self::run("remove", path, Command::new("xenstore-rm").arg(path)).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_before_use() {
        for bad in [
            "",
            "/abs",
            "/local/domain/../x",
            "a//b",
            "a/../b",
            "a/b c",
            "a/;rm",
            "a/$(x)",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        check_path("backend/vif/5/2/hotplug-status").unwrap();
        check_path("/local/domain/5/name").unwrap();
    }

    #[test]
    fn dir_store_round_trips() {
        let dir = std::env::temp_dir().join(format!("vifkit-xs-{}", std::process::id()));
        let s = DirStore::new(&dir);
        assert_eq!(s.read("backend/vif/1/0/bridge").unwrap(), None);
        s.write("backend/vif/1/0/bridge", "br0").unwrap();
        assert_eq!(
            s.read("backend/vif/1/0/bridge").unwrap().as_deref(),
            Some("br0")
        );
        std::fs::write(dir.join("backend/vif/1/0/bridge"), "br1\n").unwrap();
        assert_eq!(
            s.read("backend/vif/1/0/bridge").unwrap().as_deref(),
            Some("br1")
        );
        s.remove("backend/vif/1/0/bridge").unwrap();
        s.remove("backend/vif/1/0/bridge").unwrap();
        assert_eq!(s.read("backend/vif/1/0/bridge").unwrap(), None);
        assert!(s.read("../etc/passwd").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
