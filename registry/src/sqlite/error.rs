//! SQLite's errors as [`RegistryError`]s.

use std::path::Path;

use rusqlite::ErrorCode;

use crate::RegistryError;

/// Maps a SQLite error to [`RegistryError::Sqlite`] for `path` and what was being done.
pub(crate) fn db_err(
    path: &Path,
    op: &'static str,
) -> impl FnOnce(rusqlite::Error) -> RegistryError {
    let path = path.to_owned();
    move |source| RegistryError::Sqlite { path, op, source }
}

pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}
