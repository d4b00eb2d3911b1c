//! [`LazyRegistry`]: the registry opened only when first used, read-only until the first
//! write. A libvirt hook for a guest without a bridged NIC never touches the registry,
//! so a broken or missing registry cannot stop such a guest; a hook that only reads
//! never waits for a writer.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use translator::{IfName, MacAddr};

use crate::{
    Attachment, AttachmentState, Bridge, DomainKey, DomainName, Driver, Recorded, Registry,
    RegistryError, SqliteRegistry,
};

/// The registry at a path, opened on first use: reads through
/// [`SqliteRegistry::open_read_only`] (a missing file reads as empty), writes through
/// [`SqliteRegistry::open`] (which creates it). Once a write has opened it to write,
/// reads go through that connection too. One value per thread, as [`SqliteRegistry`].
#[derive(Debug)]
pub struct LazyRegistry {
    path: PathBuf,
    reader: OnceCell<SqliteRegistry>,
    writer: OnceCell<SqliteRegistry>,
}

impl LazyRegistry {
    /// The registry at `path`, not opened yet.
    pub fn new(path: impl AsRef<Path>) -> LazyRegistry {
        LazyRegistry {
            path: path.as_ref().to_path_buf(),
            reader: OnceCell::new(),
            writer: OnceCell::new(),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it was opened (to read or to write).
    pub fn is_open(&self) -> bool {
        self.reader.get().is_some() || self.writer.get().is_some()
    }

    /// Whether it was opened to write.
    pub fn is_open_to_write(&self) -> bool {
        self.writer.get().is_some()
    }

    fn reader(&self) -> Result<&SqliteRegistry, RegistryError> {
        if let Some(w) = self.writer.get() {
            return Ok(w);
        }
        if let Some(r) = self.reader.get() {
            return Ok(r);
        }
        let r = SqliteRegistry::open_read_only(&self.path)?;
        Ok(self.reader.get_or_init(|| r))
    }

    fn writer(&self) -> Result<&SqliteRegistry, RegistryError> {
        if let Some(w) = self.writer.get() {
            return Ok(w);
        }
        let w = SqliteRegistry::open(&self.path)?;
        Ok(self.writer.get_or_init(|| w))
    }
}

impl Registry for LazyRegistry {
    fn add_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError> {
        self.writer()?.add_bridge(bridge)
    }

    fn update_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError> {
        self.writer()?.update_bridge(bridge)
    }

    fn remove_bridge(&self, name: &IfName) -> Result<Bridge, RegistryError> {
        self.writer()?.remove_bridge(name)
    }

    fn bridge(&self, name: &IfName) -> Result<Option<Bridge>, RegistryError> {
        self.reader()?.bridge(name)
    }

    fn bridges(&self) -> Result<Vec<Bridge>, RegistryError> {
        self.reader()?.bridges()
    }

    fn set_bridge_made(&self, name: &IfName, made: bool) -> Result<(), RegistryError> {
        self.writer()?.set_bridge_made(name, made)
    }

    fn bridge_made(&self, name: &IfName) -> Result<bool, RegistryError> {
        self.reader()?.bridge_made(name)
    }

    fn claim_bridges(
        &self,
        driver: Driver,
        domain: &DomainName,
        bridges: &[IfName],
    ) -> Result<(), RegistryError> {
        self.writer()?.claim_bridges(driver, domain, bridges)
    }

    fn release_claims(&self, driver: Driver, domain: &DomainName) -> Result<(), RegistryError> {
        self.writer()?.release_claims(driver, domain)
    }

    fn bridge_claims(&self, bridge: &IfName) -> Result<Vec<(Driver, DomainName)>, RegistryError> {
        self.reader()?.bridge_claims(bridge)
    }

    fn record(&self, attachment: &Attachment) -> Result<Recorded, RegistryError> {
        self.writer()?.record(attachment)
    }

    fn set_state(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
        state: AttachmentState,
    ) -> Result<(), RegistryError> {
        self.writer()?.set_state(driver, domid, devid, state)
    }

    fn remove_attachment(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        self.writer()?.remove_attachment(driver, domid, devid)
    }

    fn remove_if_unchanged(&self, attachment: &Attachment) -> Result<bool, RegistryError> {
        self.writer()?.remove_if_unchanged(attachment)
    }

    fn remove_domain(
        &self,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError> {
        self.writer()?.remove_domain(driver, domain)
    }

    fn replace_domain(
        &self,
        driver: Driver,
        domid: u32,
        attachments: &[Attachment],
    ) -> Result<Vec<Attachment>, RegistryError> {
        self.writer()?.replace_domain(driver, domid, attachments)
    }

    fn attachment(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        self.reader()?.attachment(driver, domid, devid)
    }

    fn attachment_by_device(&self, device: &IfName) -> Result<Option<Attachment>, RegistryError> {
        self.reader()?.attachment_by_device(device)
    }

    fn attachment_by_mac(&self, mac: MacAddr) -> Result<Option<Attachment>, RegistryError> {
        self.reader()?.attachment_by_mac(mac)
    }

    fn attachments(&self) -> Result<Vec<Attachment>, RegistryError> {
        self.reader()?.attachments()
    }

    fn domain_attachments(
        &self,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError> {
        self.reader()?.domain_attachments(driver, domain)
    }

    fn generation(&self) -> Result<u64, RegistryError> {
        self.reader()?.generation()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{attachment, bridge, temp_db};

    #[test]
    fn nothing_is_opened_or_created_until_used_and_reads_never_create() {
        let (_dir, path) = temp_db();
        let reg = LazyRegistry::new(&path);
        assert!(!reg.is_open());
        assert!(!path.exists());
        // A read of a registry that does not exist: empty, and still no file.
        assert_eq!(reg.bridges().unwrap(), []);
        assert!(reg.is_open() && !reg.is_open_to_write());
        assert!(!path.exists());
        // The first write opens it to write (creating it); reads then see the write.
        reg.add_bridge(&bridge("br0")).unwrap();
        assert!(reg.is_open_to_write());
        assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
        reg.record(&attachment(5, 0, "br0")).unwrap();
        assert_eq!(reg.generation().unwrap(), 2);
    }

    #[test]
    fn an_unusable_registry_fails_on_first_use_only() {
        let (_dir, path) = temp_db();
        std::fs::create_dir(&path).unwrap();
        let reg = LazyRegistry::new(&path);
        let err = reg.attachments().unwrap_err();
        assert!(
            matches!(&err, RegistryError::Unusable { problem, .. }
                if *problem == crate::FileProblem::Directory),
            "{err:?}"
        );
        assert!(!reg.is_open());
    }
}
