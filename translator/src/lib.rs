#![doc = include_str!("../README.md")]

pub mod guest;
pub mod ifname;
pub mod interface;
pub mod mac;

pub use guest::GuestType;
pub use ifname::IfName;
pub use interface::Interface;
pub use mac::MacAddr;
