#!/usr/bin/env bash
# Builds the release binaries the way vifkit is packaged:
#   - `vifkit` statically linked (glibc, `-C target-feature=+crt-static`): no dynamic
#     loader at start. A hotplug script, a libvirt hook and `cfg2xml` are short-lived
#     processes; loading libgcc_s, libm and libc costs ~0.3 ms per start on a slow-exec
#     machine, as much as the work itself.
#   - `vifkit-libvirt` and `vifkit-xl` dynamically linked (they need libvirt and
#     libxenlight, which Debian ships only as shared libraries).
# `cargo rustc` passes the flag to the `vifkit` binary's own link only; the libraries
# it uses are the same as in any build. Honours CARGO_TARGET_DIR and extra cargo
# arguments (e.g. --no-default-features).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked "$@"
cargo rustc --release --locked --bin vifkit "$@" -- -C target-feature=+crt-static
