#![doc = include_str!("../README.md")]

pub mod dbus;
pub mod hotplug;
pub mod netlink;
pub mod ovs;
pub mod plumbing;
pub mod registry;
