//! What can be wrong with a vif spec.

use crate::bridge_spec::BridgeSpecError;
use crate::ifname::IfNameError;
use crate::mac::MacError;
use crate::rate::RateError;
use crate::vlan::VlanError;

/// Why a value is refused; the source of [`VifError::Invalid`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// See [`MacError`].
    #[error(transparent)]
    Mac(#[from] MacError),
    /// See [`RateError`].
    #[error(transparent)]
    Rate(#[from] RateError),
    /// See [`VlanError`].
    #[error(transparent)]
    Vlan(#[from] VlanError),
    /// See [`IfNameError`].
    #[error(transparent)]
    IfName(#[from] IfNameError),
    /// See [`BridgeSpecError`].
    #[error(transparent)]
    Bridge(#[from] BridgeSpecError),
    /// An address that is not IPv4 or IPv6.
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    IpAddr(String),
    /// A prefix length that does not fit the address family.
    #[error("Prefix /{prefix} is too long for {addr}")]
    IpPrefix {
        /// The address.
        addr: String,
        /// The prefix as written.
        prefix: String,
    },
    /// A number out of its range.
    #[error("Expected a number from {min} to {max}")]
    Number {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// `type=` with another value.
    #[error("Expected ioemu or vif")]
    NicType,
    /// A flag written with a value.
    #[error("The flag takes no value")]
    FlagValue,
    /// `key=` with nothing after it.
    #[error("Empty value")]
    Empty,
    /// A space, which xl keeps as part of the value (only `ip=` holds spaces).
    #[error(
        "Contains a space: xl takes everything up to the next comma as the value \
         (only ip= separates its addresses with spaces)"
    )]
    Space,
    /// White space but the plain space, a control or an invisible formatting character.
    #[error("Contains {0:?}, a character that cannot be seen")]
    Invisible(char),
    /// `,`, `=` or a quote, which would add a key to a spec or end the xl string.
    #[error(
        "Contains `{0}`, which would end the value in an xl vif spec (`,` starts another \
         key, `=` ends a key, a quote ends the string)"
    )]
    Separator(char),
    /// A model name with characters libvirt and QEMU do not use.
    #[error("Not a model name: letters, digits, `_` and `-` only")]
    Model,
}

/// One problem with one vif spec. Each names the key it is about ([`VifError::key`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VifError {
    /// A key xl does not know.
    #[error("Unknown key `{key}` in `{token}`")]
    UnknownKey {
        /// The key.
        key: String,
        /// The whole token.
        token: String,
    },
    /// A bare word that is not a flag.
    #[error("Unknown token `{0}` (not KEY=VALUE, nor trusted or untrusted)")]
    UnknownFlag(String),
    /// A key given twice.
    #[error("Key `{key}` given more than once (`{first}`, then `{second}`)")]
    Duplicate {
        /// The key of the repeat.
        key: &'static str,
        /// The first token.
        first: String,
        /// The repeat.
        second: String,
    },
    /// A value that does not parse.
    #[error("Invalid {key} `{value}`")]
    Invalid {
        /// The key.
        key: &'static str,
        /// The value as written.
        value: String,
        /// Why.
        #[source]
        source: ValueError,
    },
    /// A value that is valid on its own but not here (with this guest type or these
    /// other keys).
    #[error("{key}={value}: {reason}")]
    NotHere {
        /// The key.
        key: &'static str,
        /// The value as written.
        value: String,
        /// Why, sentence-case.
        reason: String,
    },
}

/// `bad-KEY` for a key (`bad-mac`), `_` as `-`: the code of [`VifError::Invalid`].
fn bad_key_code(key: &str) -> String {
    format!("bad-{}", key.replace('_', "-"))
}

impl VifError {
    /// A stable kebab-case identifier of the kind of problem, for programs (the
    /// message's wording may change): `unknown-key`, `unknown-token`, `duplicate-key`,
    /// `bad-KEY` (a value that does not parse: `bad-mac`, `bad-rate`, ...; `_` in a key
    /// written `-`) or `not-applicable` (valid, but not with this guest type or these
    /// other keys).
    pub fn code(&self) -> std::borrow::Cow<'static, str> {
        match self {
            VifError::UnknownKey { .. } => "unknown-key".into(),
            VifError::UnknownFlag(_) => "unknown-token".into(),
            VifError::Duplicate { .. } => "duplicate-key".into(),
            VifError::Invalid { key, .. } => bad_key_code(key).into(),
            VifError::NotHere { .. } => "not-applicable".into(),
        }
    }

    /// The offending value or token as written (not escaped: see
    /// [`crate::diag::Shown`]).
    pub fn value(&self) -> &str {
        match self {
            VifError::UnknownKey { token, .. } => token,
            VifError::UnknownFlag(t) => t,
            VifError::Duplicate { second, .. } => second,
            VifError::Invalid { value, .. } | VifError::NotHere { value, .. } => value,
        }
    }

    /// The key the problem is about.
    pub fn key(&self) -> &str {
        match self {
            VifError::UnknownKey { key, .. } => key,
            VifError::UnknownFlag(t) => t,
            VifError::Duplicate { key, .. }
            | VifError::Invalid { key, .. }
            | VifError::NotHere { key, .. } => key,
        }
    }
}
