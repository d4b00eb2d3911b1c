//! The errors the service answers with: `org.vifkit.Error.<Name>` with a one-line
//! message (the whole chain of causes), and `org.freedesktop.DBus.Error.AccessDenied`
//! for a caller who may not change the registry.

use zbus::message::{Header, Message};
use zbus::names::ErrorName;
use zbus::DBusError;

use hostnet::plumbing::EnsureError;
use registry::RegistryError;

/// The prefix of the service's own error names.
pub const ERROR_PREFIX: &str = "org.vifkit.Error";

/// What a method call answers when it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceError {
    /// `org.vifkit.Error.InvalidArgs`: an argument that is not valid (a bad name, MAC,
    /// guest type, option).
    InvalidArgs(String),
    /// `org.vifkit.Error.InvalidSpec`: a vif spec or `<interface>` the translator refuses.
    InvalidSpec(String),
    /// `org.vifkit.Error.TooLarge`: an argument over the service's size limits.
    TooLarge(String),
    /// `org.vifkit.Error.NotFound`: no such bridge or pairing.
    NotFound(String),
    /// `org.vifkit.Error.Exists`: the bridge is registered already, differently.
    Exists(String),
    /// `org.vifkit.Error.InUse`: the bridge still has NICs attached.
    InUse(String),
    /// `org.vifkit.Error.Conflict`: the record clashes with another (uplink, MAC, name).
    Conflict(String),
    /// `org.vifkit.Error.Busy`: the registry stayed locked by another process.
    Busy(String),
    /// `org.vifkit.Error.NotSupported`: something vifkit cannot do (yet).
    NotSupported(String),
    /// `org.vifkit.Error.Host`: changing the host (netlink) failed.
    Host(String),
    /// `org.vifkit.Error.Registry`: the registry failed otherwise.
    Registry(String),
    /// `org.vifkit.Error.Failed`: anything else.
    Failed(String),
    /// `org.freedesktop.DBus.Error.AccessDenied`: the caller may not do this.
    AccessDenied(String),
    /// `org.freedesktop.DBus.Error.LimitsExceeded`: too many large requests in flight,
    /// from this caller or from all (see [`crate::limits`]); try again later.
    LimitsExceeded(String),
}

impl ServiceError {
    /// The short name after the prefix (`InvalidArgs`), or the full name for
    /// `AccessDenied`.
    fn full_name(&self) -> &'static str {
        match self {
            ServiceError::InvalidArgs(_) => "org.vifkit.Error.InvalidArgs",
            ServiceError::InvalidSpec(_) => "org.vifkit.Error.InvalidSpec",
            ServiceError::TooLarge(_) => "org.vifkit.Error.TooLarge",
            ServiceError::NotFound(_) => "org.vifkit.Error.NotFound",
            ServiceError::Exists(_) => "org.vifkit.Error.Exists",
            ServiceError::InUse(_) => "org.vifkit.Error.InUse",
            ServiceError::Conflict(_) => "org.vifkit.Error.Conflict",
            ServiceError::Busy(_) => "org.vifkit.Error.Busy",
            ServiceError::NotSupported(_) => "org.vifkit.Error.NotSupported",
            ServiceError::Host(_) => "org.vifkit.Error.Host",
            ServiceError::Registry(_) => "org.vifkit.Error.Registry",
            ServiceError::Failed(_) => "org.vifkit.Error.Failed",
            ServiceError::AccessDenied(_) => "org.freedesktop.DBus.Error.AccessDenied",
            ServiceError::LimitsExceeded(_) => "org.freedesktop.DBus.Error.LimitsExceeded",
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            ServiceError::InvalidArgs(m)
            | ServiceError::InvalidSpec(m)
            | ServiceError::TooLarge(m)
            | ServiceError::NotFound(m)
            | ServiceError::Exists(m)
            | ServiceError::InUse(m)
            | ServiceError::Conflict(m)
            | ServiceError::Busy(m)
            | ServiceError::NotSupported(m)
            | ServiceError::Host(m)
            | ServiceError::Registry(m)
            | ServiceError::Failed(m)
            | ServiceError::AccessDenied(m)
            | ServiceError::LimitsExceeded(m) => m,
        }
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.full_name(), self.message())
    }
}

impl std::error::Error for ServiceError {}

impl DBusError for ServiceError {
    fn create_reply(&self, call: &Header<'_>) -> zbus::Result<Message> {
        Message::error(call, self.name()).build(&(self.message(),))
    }

    fn name(&self) -> ErrorName<'_> {
        ErrorName::from_static_str_unchecked(self.full_name())
    }

    fn description(&self) -> Option<&str> {
        Some(self.message())
    }
}

/// The whole chain of causes on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    translator::diag::error_chain(e)
}

impl From<RegistryError> for ServiceError {
    fn from(e: RegistryError) -> ServiceError {
        let msg = chain(&e);
        match e {
            RegistryError::Invalid(_) => ServiceError::InvalidArgs(msg),
            RegistryError::BridgeExists(_) => ServiceError::Exists(msg),
            RegistryError::UnknownBridge(_) | RegistryError::UnknownAttachment { .. } => {
                ServiceError::NotFound(msg)
            }
            RegistryError::BridgeInUse { .. } => ServiceError::InUse(msg),
            RegistryError::UplinkInUse { .. }
            | RegistryError::UplinkIsABridge { .. }
            | RegistryError::MacClash { .. }
            | RegistryError::NameClash { .. }
            | RegistryError::WrongDomain { .. }
            | RegistryError::DuplicateDevice { .. } => ServiceError::Conflict(msg),
            RegistryError::Busy { .. } => ServiceError::Busy(msg),
            RegistryError::Sqlite { .. } if e.is_busy() => ServiceError::Busy(msg),
            _ => ServiceError::Registry(msg),
        }
    }
}

impl From<EnsureError> for ServiceError {
    fn from(e: EnsureError) -> ServiceError {
        let msg = chain(&e);
        match e {
            EnsureError::Registry(r) => r.into(),
            EnsureError::WrongKind { .. } | EnsureError::OvsUplinkVlan(_) => {
                ServiceError::NotSupported(msg)
            }
            EnsureError::NotCreatable(_) | EnsureError::MissingUplink { .. } => {
                ServiceError::NotFound(msg)
            }
            EnsureError::Netlink(_)
            | EnsureError::Undo { .. }
            | EnsureError::Ovs(_)
            | EnsureError::OvsUndo { .. } => ServiceError::Host(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use translator::IfName;

    #[test]
    fn registry_errors_get_their_names() {
        let br = IfName::new("br0").unwrap();
        let e: ServiceError = RegistryError::UnknownBridge(br.clone()).into();
        assert_eq!(e.name().as_str(), "org.vifkit.Error.NotFound");
        assert_eq!(e.message(), "Bridge br0 is not in the registry");
        let e: ServiceError = RegistryError::BridgeExists(br).into();
        assert_eq!(e.name().as_str(), "org.vifkit.Error.Exists");
        let e = ServiceError::AccessDenied("no".into());
        assert_eq!(e.name().as_str(), "org.freedesktop.DBus.Error.AccessDenied");
        assert_eq!(e.description(), Some("no"));
    }
}
