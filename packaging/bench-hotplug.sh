#!/usr/bin/env bash
# Attaching one vif to an existing bridge, as xl runs the hotplug script: vifkit's
# `vif-script online` against a shell script doing the process-level steps of Xen's
# vif-bridge for that online (read the vif's keys from xenstore, check the bridge, set
# the MTU, enslave, bring up, write hotplug-status), and an empty statically linked C
# program (the process-start floor), all three whole processes in one hyperfine run, in
# a private network namespace, the port taken off the bridge again before every run
# (not timed). xenstore is the directory stand-in (VIFKIT_XENSTORE_DIR) for both: each
# xenstore-read/-write of Xen's script is one process here too (cat, tee).
# Needs root, iproute2, hyperfine, gcc (static glibc). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
bash packaging/build-release.sh >&2
bin="$target/release/vifkit"
ns="vk-bench-$$"
work=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add br0 type bridge
ip -n "$ns" link set br0 up
ip -n "$ns" link add vif1.0 type veth peer name guest10
xs="$work/xs/backend/vif/1/0"
mkdir -p "$xs"
echo br0 > "$xs/bridge"
printf 'int main(void) { return 0; }\n' > "$work/empty.c"
gcc -static -O2 -o "$work/empty" "$work/empty.c"
cat > "$work/vif-bridge-steps.sh" <<'SH'
#!/bin/sh
# The processes Xen's vif-bridge runs for `online` once its helpers are sourced, with
# the bridge there, no ip= (no iptables), no hooks, no logger: one per xenstore key
# (vif-common.sh reads vifname and ip, vif-bridge the bridge), the bridge check,
# set_mtu, add_to_bridge, success.
set -e
xs="$VIFKIT_XENSTORE_DIR/$XENBUS_PATH"
vifname=$(cat "$xs/vifname" 2>/dev/null || true)
ip=$(cat "$xs/ip" 2>/dev/null || true)
bridge=$(cat "$xs/bridge")
ip link show dev "$bridge" >/dev/null
mtu=$(cat "/sys/class/net/$bridge/mtu")
ip link set dev "$vif" mtu "$mtu"
ip link set dev "$vif" master "$bridge"
ip link set dev "$vif" up
echo connected | tee "$xs/hotplug-status" >/dev/null
SH
chmod +x "$work/vif-bridge-steps.sh"
export vif=vif1.0 XENBUS_PATH=backend/vif/1/0 VIFKIT_XENSTORE_DIR="$work/xs"
export VIFKIT_DB="$work/none.db"
# Both must wire the port: check once before timing.
for cmd in "$bin vif-script online type_if=vif" "$work/vif-bridge-steps.sh"; do
  ip -n "$ns" link set dev vif1.0 nomaster
  rm -f "$xs/hotplug-status"
  ip netns exec "$ns" $cmd
  ip -n "$ns" -j link show vif1.0 | grep -q '"master":"br0"' || { echo "$cmd: not wired" >&2; exit 1; }
  grep -qx connected "$xs/hotplug-status" || { echo "$cmd: no hotplug-status" >&2; exit 1; }
done
ip netns exec "$ns" hyperfine -N --warmup 20 --runs "${RUNS:-300}" \
  --prepare "ip link set dev vif1.0 nomaster" \
  --export-json "$work/h.json" \
  "$bin vif-script online type_if=vif" \
  "$work/vif-bridge-steps.sh" \
  "$work/empty" >&2
python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
v, s, f = (x["median"] * 1e3 for x in r)
print(f"vifkit vif-script online: median {v:.3f} ms")
print(f"shell (vif-bridge steps): median {s:.3f} ms")
print(f"empty static C program:   median {f:.3f} ms")
print(f"shell / vifkit: {s / v:.1f}x; above the floor: vifkit {v - f:.3f} ms, shell {s - f:.3f} ms")
PY
