#!/usr/bin/env bash
# Every test: installs what it needs, then formatting, lints, docs, unit, integration,
# golden and property tests (against the real libvirt parser and schemas), and a short
# run of each fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
echo "== fmt";    cargo fmt --all -- --check
echo "== clippy"; cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== docs";   RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
echo "== tests";  cargo test --workspace --locked
echo "== no-xen build"; bash packaging/check-no-xen.sh
echo "== release build as packaged (static vifkit)"
bash packaging/build-release.sh --quiet
! readelf -l target/release/vifkit | grep -q INTERP \
  || { echo "target/release/vifkit asks for a dynamic loader: not statically linked" >&2; exit 1; }
for c in ovs vlan900 alice; do   # the golden output, from the release build as packaged
  target/release/vifkit cfg2xml "tests/data/$c.cfg" 2>/dev/null | cmp - "tests/data/$c.xml" \
    || { echo "the release vifkit translates tests/data/$c.cfg differently" >&2; exit 1; }
done
if [ "${VIFKIT_FUZZ_SECONDS:-10}" -gt 0 ]; then
  echo "== fuzz smoke (${VIFKIT_FUZZ_SECONDS:-10}s per target)"
  bash fuzz/smoke.sh "${VIFKIT_FUZZ_SECONDS:-10}"
fi
