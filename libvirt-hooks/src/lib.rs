#![doc = include_str!("../README.md")]

pub mod hotplug;
pub mod netlink;
pub mod registry;
