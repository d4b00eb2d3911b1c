#![doc = include_str!("../README.md")]

pub mod netlink;
pub mod ovs;
pub mod registry;
