#!/usr/bin/env bash
# Attaching one vif to an existing bridge, as the hotplug script is run: vifkit's
# `vif-script online` against a shell script doing vif-bridge's steps (`ip link set mtu`,
# `ip link set master`, `ip link set up`), both whole processes, in a private network
# namespace, the port taken off the bridge again before every run (not timed).
# Needs root, iproute2, hyperfine. Honours CARGO_TARGET_DIR.
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
mkdir -p "$work/xs/backend/vif/1/0"
echo br0 > "$work/xs/backend/vif/1/0/bridge"
cat > "$work/vif-bridge-steps.sh" <<'SH'
#!/bin/sh
# What Xen's vif-bridge does to the port, once the bridge is known.
ip link set dev "$vif" mtu 1500
ip link set dev "$vif" master br0
ip link set dev "$vif" up
SH
chmod +x "$work/vif-bridge-steps.sh"
export vif=vif1.0 XENBUS_PATH=backend/vif/1/0 VIFKIT_XENSTORE_DIR="$work/xs"
export VIFKIT_DB="$work/none.db"
ip netns exec "$ns" hyperfine -N --warmup 20 --runs "${RUNS:-300}" \
  --prepare "ip link set dev vif1.0 nomaster" \
  --export-json "$work/h.json" \
  "$bin vif-script online type_if=vif" \
  "$work/vif-bridge-steps.sh" >&2
python3 - "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
v, s = r[0]["median"] * 1e3, r[1]["median"] * 1e3
print(f"vifkit vif-script online: median {v:.3f} ms")
print(f"shell (vif-bridge steps): median {s:.3f} ms")
print(f"ratio: {s / v:.1f}x (target: >= 10x and vifkit < 2 ms)")
PY
