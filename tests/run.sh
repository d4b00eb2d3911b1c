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

# Tests needing root (network namespaces, a private Open vSwitch, a private bus with
# clients as another user) are #[ignore = "needs root: ..."]: as root they run with
# --include-ignored; otherwise a plain `cargo test` shows them as ignored.
#
# A test needing a kernel feature some kernels lack is named after it,
# kernel_with_<feature>_..., and one checking the refusal on kernels without it
# kernel_without_<feature>_... . Each feature is probed once, in a namespace of its
# own, and the tests that cannot run on this kernel are passed to --skip, so that they
# show as filtered out, never as passed.
kernel_features=(8021q vlan_filtering tc_police sfq)
declare -A feature_name=(
  [8021q]="802.1Q VLAN devices"
  [vlan_filtering]="bridge VLAN filtering"
  [tc_police]="the tc police action"
  [sfq]="the sfq qdisc (libvirt's <bandwidth> on a QEMU tap)"
)
# probe_FEATURE NS: succeeds if the kernel lets NS use the feature.
probe_8021q() {
  ip -n "$1" link add p0 type veth peer name p1 &&
    ip -n "$1" link add link p0 name p0.10 type vlan id 10
}
probe_vlan_filtering() { ip -n "$1" link add b0 type bridge vlan_filtering 1; }
probe_tc_police() {
  ip -n "$1" link add p0 type veth peer name p1 &&
    tc -n "$1" qdisc add dev p0 ingress &&
    tc -n "$1" filter add dev p0 parent ffff: protocol all u32 match u32 0 0 \
      police rate 1mbit burst 100k drop
}
probe_sfq() {
  ip -n "$1" link add p0 type veth peer name p1 &&
    tc -n "$1" qdisc add dev p0 root sfq perturb 10
}
# kernel_has FEATURE: probes in a throwaway namespace (errexit is off in an `if`).
kernel_has() {
  local ns="vk-probe-$$-$1" rc=0
  ip netns add "$ns" || { echo "cannot make a network namespace to probe $1" >&2; exit 1; }
  "probe_$1" "$ns" >/dev/null 2>&1 || rc=$?
  ip netns del "$ns" || { echo "cannot delete the network namespace $ns" >&2; exit 1; }
  return "$rc"
}

if [ "$(id -u)" -eq 0 ]; then
  echo "== tests (as root: with the ignored tests that need root, --include-ignored)"
  # Every test's name (this builds the tests), to count what each --skip leaves out.
  names=$(cargo test --workspace --locked -q -- --list --include-ignored \
    | sed -n 's/: test$//p')
  unknown=$(grep -E 'kernel_with(out)?_' <<<"$names" \
    | grep -vE "kernel_with(out)?_($(IFS='|'; echo "${kernel_features[*]}"))_" || true)
  if [ -n "$unknown" ]; then
    echo "tests named after a kernel feature tests/run.sh does not probe:" >&2
    echo "$unknown" >&2
    exit 1
  fi
  skips=()
  for f in "${kernel_features[@]}"; do
    if kernel_has "$f"; then
      pattern="kernel_without_${f}_" why="kernel has ${feature_name[$f]}; these check its absence"
    else
      pattern="kernel_with_${f}_" why="kernel lacks ${feature_name[$f]}"
    fi
    n=$(grep -c -- "$pattern" <<<"$names" || true)
    echo "SKIP ($why): $n test$([ "$n" = 1 ] || echo s) (--skip $pattern)"
    skips+=(--skip "$pattern")
  done
  cargo test --workspace --locked -- --include-ignored "${skips[@]}"
else
  echo "== tests (not root: the tests that need root show as ignored)"
  cargo test --workspace --locked
fi

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
