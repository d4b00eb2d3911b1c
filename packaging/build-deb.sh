#!/usr/bin/env bash
# Builds the Debian package from this checkout: target/deb/vifkit_VERSION_ARCH.deb
# (under CARGO_TARGET_DIR if set). Needs debhelper, pkg-config and the build
# dependencies packaging/install-deps.sh installs. Runs debian/rules directly (not
# dpkg-buildpackage), so nothing is written beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
dpkg-checkbuilddeps
debian/rules clean >/dev/null
debian/rules binary
ls "$CARGO_TARGET_DIR"/deb/vifkit_*.deb
