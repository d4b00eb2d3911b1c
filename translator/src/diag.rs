//! Warnings: what a translation could not carry, or what the reader should know.

use std::borrow::Cow;
use std::fmt;

/// Whether a warning reports something lost in translation (an error under
/// `--strict-loss`) or advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Something the input said is not in the output.
    Loss,
    /// The output is complete; the warning is advice (a deprecated spelling, a reserved
    /// name, a reading that differs between tools).
    Advice,
}

/// One warning about one NIC, naming the key (vif side) or element (XML side) it is
/// about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The vif key (`rate`) or XML element/attribute (`<link>`) concerned.
    pub key: Cow<'static, str>,
    /// The message, sentence-case, without the NIC prefix.
    pub message: String,
    /// Loss or advice.
    pub severity: Severity,
}

impl Warning {
    /// A warning that something was dropped.
    pub fn loss(key: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Warning {
        Warning {
            key: key.into(),
            message: message.into(),
            severity: Severity::Loss,
        }
    }

    /// A warning that is advice only.
    pub fn advice(key: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Warning {
        Warning {
            key: key.into(),
            message: message.into(),
            severity: Severity::Advice,
        }
    }

    /// Whether this warning reports a loss.
    pub fn is_loss(&self) -> bool {
        self.severity == Severity::Loss
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error and all its sources, joined by `: `, as vifkit's binaries print them.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
