//! Xen's own xl config parser, read into vifkit's types.
//!
//! - [`view`]: what vifkit reads from an xl config parsed by libxlutil (guest type, vifs,
//!   xl.conf defaults), for `vifkit --xl-parser=xen`.
//! - [`differential`]: runs vifkit's pure-Rust parsers and libxlutil on the same input
//!   and explains every disagreement by a named, documented difference (used by the
//!   differential tests and the `xl_differential` fuzz target).
//!
//! The raw bindings and their safe wrapper are in `xl-sys`, which depends on libc only.

pub mod differential;
pub mod view;
