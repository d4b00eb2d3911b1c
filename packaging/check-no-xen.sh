#!/usr/bin/env bash
# Proves vifkit builds and works on a machine without libxen-dev (and libclang): with
# the `xen` feature off (`--no-default-features`), in a clean target directory, with
# pkg-config finding no library at all, and with xl-sys and bindgen absent
# from the dependency graph of that build. Then checks that `--xl-parser=xen` says what
# is missing and that the default parser works.
#
#   bash packaging/check-no-xen.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scratch=$(mktemp -d "${TMPDIR:-/tmp}/vifkit-no-xen.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/target" "$scratch/empty-pkgconfig"
export CARGO_TARGET_DIR="$scratch/target"
# No .pc file is visible: pkg-config fails for xlutil, xenlight, anything.
export PKG_CONFIG_PATH="$scratch/empty-pkgconfig"
export PKG_CONFIG_LIBDIR="$scratch/empty-pkgconfig"
if pkg-config --exists xenlight 2>/dev/null; then
    echo "FAIL: pkg-config still finds xenlight" >&2
    exit 1
fi

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

echo "== dependency graph of vifkit --no-default-features"
tree=$(cargo tree -p vifkit --no-default-features --edges normal,build --prefix none --locked)
# (The pkg-config crate itself may be there: libsqlite3-sys build-depends on it, but with
# rusqlite's `bundled` feature it builds SQLite from source and asks pkg-config nothing;
# the build below runs with pkg-config seeing no library at all, which proves it.)
for crate in xl-sys bindgen clang-sys; do
    if grep -q "^$crate v" <<<"$tree"; then
        fail "$crate is in the dependency graph of the feature-off build"
    fi
done
echo "   no xl-sys, bindgen or clang-sys"

echo "== cargo build --no-default-features (clean target dir, no pkg-config libraries)"
cargo build -p vifkit --no-default-features --locked

echo "== --xl-parser=xen without libxenlight support"
vifkit="$CARGO_TARGET_DIR/debug/vifkit"
status=0
out=$("$vifkit" cfg2xml --xl-parser=xen examples/alice.cfg 2>&1) || status=$?
[[ $status -eq 1 ]] || fail "exit status $status, expected 1: $out"
[[ $out == *"built without libxenlight support"* ]] || fail "unclear message: $out"
echo "   $out"
"$vifkit" cfg2xml examples/alice.cfg >/dev/null 2>&1 || fail "the default parser does not work"

echo "== an etcd registry without the etcd feature (also off here)"
status=0
out=$("$vifkit" --registry etcd://127.0.0.1:2379 bridge list 2>&1) || status=$?
[[ $status -eq 1 ]] || fail "exit status $status, expected 1: $out"
[[ $out == *"built without the etcd registry"* ]] || fail "unclear message: $out"
echo "   $out"

echo "== the feature-off CLI test"
cargo test -p vifkit --no-default-features --locked --test xl_parser

echo "ok: vifkit builds and runs without libxen-dev"
