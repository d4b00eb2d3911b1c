//! The records as JSON (serde), for stores that keep them as documents (the etcd
//! registry): every field is written as the text the CLI and SQLite use, and read back
//! through the same parser, so a stored value is validated as any input is. A field a
//! later vifkit adds flows through as long as it has a `#[serde(default)]`.

use std::fmt::Display;

use serde::{Deserialize, Deserializer, Serializer};
use translator::vlan::VlanSpec;
use translator::{IfName, MacAddr};

use crate::{
    AttachmentState, BootId, BridgeKind, DomainName, DomainUuid, Driver, GuestName, Mtu,
    NicModelName, VlanId,
};

/// A value with a text form that reads back.
pub(crate) trait Text: Sized + Display {
    /// Parses the text form.
    fn read(s: &str) -> Result<Self, String>;
}

macro_rules! text_by_from_str {
    ($($t:ty),*) => {$(
        impl Text for $t {
            fn read(s: &str) -> Result<Self, String> {
                s.parse::<$t>().map_err(|e| translator::diag::one_line(&e.to_string()))
            }
        }
    )*};
}

text_by_from_str!(
    MacAddr,
    VlanSpec,
    BridgeKind,
    VlanId,
    Mtu,
    Driver,
    DomainName,
    DomainUuid,
    GuestName,
    AttachmentState,
    BootId,
    NicModelName
);

impl Text for IfName {
    fn read(s: &str) -> Result<Self, String> {
        IfName::try_from(s).map_err(|e| format!("invalid interface name {s:?}: {e}"))
    }
}

/// `#[serde(with = "text")]`: a field as its text.
pub(crate) mod text {
    use super::*;

    pub(crate) fn serialize<T: Text, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(crate) fn deserialize<'de, T: Text, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let s = String::deserialize(d)?;
        T::read(&s).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "opt_text")]`: an optional field as its text, or `null`.
pub(crate) mod opt_text {
    use super::*;

    pub(crate) fn serialize<T: Text, S: Serializer>(
        v: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, T: Text, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(s) => T::read(&s).map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
