#!/usr/bin/env bash
# Builds the release binaries the way vifkit is packaged:
#   - `vifkit` statically linked (glibc, `-C target-feature=+crt-static`): no dynamic
#     loader at start. A hotplug script, a libvirt hook and `cfg2xml` are short-lived
#     processes; loading libgcc_s, libm and libc costs ~0.3 ms per start on a slow-exec
#     machine, as much as the work itself.
#   - `vifkit-libvirt` and `vifkit-xl` dynamically linked (they need libvirt and
#     libxenlight, which Debian ships only as shared libraries).
#   - `vifkit` not position-independent (`-C relocation-model=static`): a static PIE
#     relocates itself at every start (8,665 relocations, 96 page faults for
#     `--version` against 62 without), which made `vifkit --version` 1.45x an empty
#     static C program against 1.09x (paired medians, one loaded run). The cost: the
#     binary's own code and data are at fixed addresses (no ASLR for them; the stack,
#     heap and mmap areas are still randomised). vifkit is Rust without unsafe code in
#     what parses input, and runs only what root and libvirt give it.
# `cargo rustc` passes the flags to the `vifkit` binary's own link only; the libraries
# it uses are the same as in any build. Honours CARGO_TARGET_DIR and extra cargo
# arguments (e.g. --no-default-features).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked "$@"
cargo rustc --release --locked --bin vifkit "$@" -- -C target-feature=+crt-static \
  -C relocation-model=static
