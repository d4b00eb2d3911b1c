#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod bridge_spec;
mod bytes;
pub mod cfg;
pub mod diag;
pub mod guest;
pub mod ifname;
pub mod interface;
pub mod interface_xml;
pub mod mac;
pub mod model;
pub mod rate;
pub mod to_vif;
pub mod to_xml;
pub mod translate;
pub mod vif;
pub mod vlan;

pub use diag::{Severity, Warning};
pub use guest::GuestType;
pub use ifname::IfName;
pub use interface::Interface;
pub use mac::MacAddr;
pub use vif::VifSpec;
