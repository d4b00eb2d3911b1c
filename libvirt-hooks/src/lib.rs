#![doc = include_str!("../README.md")]

pub mod dbus;
pub mod hook;
pub mod hotplug;
pub mod nat;
pub mod netlink;
pub mod ovs;
pub mod plumbing;
pub mod registry;
