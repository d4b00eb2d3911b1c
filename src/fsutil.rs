//! Writing files so that a reader sees the old content or the new, never half of it.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces `path` with `data` atomically: a temporary file in the same directory,
/// written, flushed to disk, given the original's permissions, then renamed over it.
/// On any failure the original is untouched and the temporary file is removed.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let meta = fs::metadata(path).with_context(|| format!("Cannot read {}", path.display()))?;
    put_atomic(path, data, meta.permissions(), "replace")
}

/// Creates `path` (which should not exist yet) with `data` and permissions `mode`, as
/// atomically as [`write_atomic`] replaces one: a reader finds no file or the whole one.
pub fn create_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    put_atomic(path, data, fs::Permissions::from_mode(mode), "create")
}

fn put_atomic(path: &Path, data: &[u8], perms: fs::Permissions, verb: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".vifkit-{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| -> Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("Cannot create {}", tmp.display()))?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("Cannot write {}", tmp.display()))?;
        fs::set_permissions(&tmp, perms)
            .with_context(|| format!("Cannot set permissions on {}", tmp.display()))?;
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
