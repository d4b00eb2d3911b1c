//! `vifkit registry backup FILE` and `vifkit registry restore FILE`, through SQLite's
//! online backup API (`registry::SqliteRegistry::backup_to`, `restore_from`): a backup is
//! a consistent copy taken beside running writers, in one file; a restore checks the
//! file (a vifkit registry of a schema this vifkit knows, undamaged) before it touches
//! the registry, then writes it in place in one transaction, so running processes,
//! `serve` included, see it as any other write.

use std::path::Path;

use anyhow::{anyhow, Context as _};
use registry::{SqliteRegistry, SCHEMA_VERSION};

use crate::report::Failure;

/// `registry backup FILE`.
pub fn backup(db: &Path, file: &Path) -> Result<String, Failure> {
    match std::fs::symlink_metadata(db) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(anyhow!(
                "Registry {}: there is none, so nothing to back up",
                db.display()
            )
            .into())
        }
        _ => {}
    }
    let reg = SqliteRegistry::open_read_only(db).map_err(anyhow::Error::from)?;
    let copied = reg
        .backup_to(file)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("Cannot back the registry up to {}", file.display()))?;
    Ok(format!(
        "backed up {} to {}: schema {}, {} bridge(s), {} NIC record(s)\n",
        db.display(),
        file.display(),
        copied.schema,
        copied.bridges,
        copied.attachments
    ))
}

/// `registry restore FILE`.
pub fn restore(db: &Path, file: &Path) -> Result<String, Failure> {
    let mut reg = SqliteRegistry::open(db).map_err(anyhow::Error::from)?;
    let copied = reg
        .restore_from(file)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("Cannot restore {}", file.display()))?;
    let schema = if copied.schema == SCHEMA_VERSION {
        format!("schema {}", copied.schema)
    } else {
        format!("schema {}, migrated to {SCHEMA_VERSION}", copied.schema)
    };
    Ok(format!(
        "restored {} into {}: {schema}, {} bridge(s), {} NIC record(s)\n",
        file.display(),
        db.display(),
        copied.bridges,
        copied.attachments
    ))
}
