#!/usr/bin/env bash
# The etcd registry's costs, in one run, on a three-member etcd cluster on loopback
# inside a private network namespace (data directories in a temporary directory):
#   1. the libvirt `started` hook of a QEMU guest with 8 NICs (as bench-hook.sh: a whole
#      `vifkit hook qemu g8 started begin -` process, the XML on stdin, libvirt's
#      environment, the records written every run), on SQLite and on etcd;
#   2. MAC claims per second (a NIC record claiming a new MAC, one transaction each)
#      from 1, 4 and 16 concurrent clients, each its own host id and connection;
#   3. `vifkit show` with 10,000 NIC records in etcd (and in SQLite, for scale).
# Timings of whole processes: median and p90 of RUNS (default 100) through a small
# Python fork/exec/wait loop (hyperfine 1.15 cannot feed stdin). Target: `started` on
# etcd within 2x of SQLite's. Needs root, iproute2, python3, etcd (etcd-server).
# Honours CARGO_TARGET_DIR and RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
bash packaging/build-release.sh >&2
cargo build --release --locked -p registry-etcd --example etcd-bench >&2
bin="$target/release/vifkit"
bench="$target/release/examples/etcd-bench"
ns="vk-bench-etcd-$$"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
inns() { ip netns exec "$ns" "$@"; }

# The cluster: three members on 127.0.0.1 inside the namespace.
initial=""
for i in 0 1 2; do initial+="m$i=http://127.0.0.1:$((23800 + i)),"; done
initial=${initial%,}
for i in 0 1 2; do
  # `ip netns exec` execs etcd (not a shell function in a subshell): $! is etcd's pid.
  ip netns exec "$ns" etcd --name "m$i" --data-dir "$work/m$i" \
    --listen-client-urls "http://127.0.0.1:$((23790 + i))" \
    --advertise-client-urls "http://127.0.0.1:$((23790 + i))" \
    --listen-peer-urls "http://127.0.0.1:$((23800 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((23800 + i))" \
    --initial-cluster "$initial" --initial-cluster-state new \
    --initial-cluster-token vifkit-bench >"$work/m$i.log" 2>&1 &
  pids+=($!)
done
url="etcd://127.0.0.1:23790,127.0.0.1:23791,127.0.0.1:23792"
eps="http://127.0.0.1:23790,http://127.0.0.1:23791,http://127.0.0.1:23792"
for _ in $(seq 100); do
  ETCDCTL_API=3 inns etcdctl --endpoints "$eps" put /probe 1 >/dev/null 2>&1 && break
  sleep 0.2
done
ETCDCTL_API=3 inns etcdctl --endpoints "$eps" put /probe 1 >/dev/null

cat >"$work/etcd.toml" <<TOML
registry = "$url"
host = "bench"
[etcd]
lease_ttl_s = 120
TOML
printf 'registry = "sqlite:%s"\nhost = "bench"\n' "$work/registry.db" >"$work/sqlite.toml"
ip netns exec "$ns" env VIFKIT_CONFIG="$work/etcd.toml" "$bin" fleet keepalive 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do
  ETCDCTL_API=3 inns etcdctl --endpoints "$eps" get /vifkit/v1/hosts/bench/lease | grep -q lease && break
  sleep 0.1
done

for b in br0 br1; do
  ip -n "$ns" link add "$b" type bridge
  ip -n "$ns" link set "$b" up
  for c in sqlite etcd; do inns env VIFKIT_CONFIG="$work/$c.toml" "$bin" bridge add "$b" >/dev/null; done
done
{
  echo "<domain type='kvm' id='8'>"
  echo "  <name>g8</name>"
  echo "  <uuid>6f1a2d7d-0b2f-4c3e-9b1b-7d6a4d5e1a11</uuid>"
  echo "  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
  echo "  <devices>"
  for i in 0 1 2 3 4 5 6 7; do
    echo "    <interface type='bridge'><mac address='52:54:00:00:08:0$i'/>"
    echo "      <source bridge='br$((i % 2))'/><target dev='vnet8$i'/><model type='virtio'/>"
    echo "    </interface>"
  done
  echo "  </devices>"
  echo "</domain>"
} >"$work/g8.xml"

echo "== started, 8 NICs (RUNS=${RUNS:-100}), whole processes"
inns python3 - "$bin" "$work" "${RUNS:-100}" <<'PY'
import statistics, subprocess, sys, time
bin, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
xml = f"{work}/g8.xml"
def env(c):
    return {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
            "VIFKIT_CONFIG": f"{work}/{c}.toml"}
def run(args, e):
    with open(xml, "rb") as f:
        t = time.perf_counter()
        r = subprocess.run(args, stdin=f, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=e)
        dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{args} exited {r.returncode}: {r.stderr.decode()}")
    return dt
started = [bin, "hook", "qemu", "g8", "started", "begin", "-"]
stopped = [bin, "hook", "qemu", "g8", "stopped", "end", "-"]
res = {}
for c in ["sqlite", "etcd"]:
    ts = []
    for i in range(runs + 10):
        run(stopped, env(c))
        dt = run(started, env(c))
        if i >= 10:
            ts.append(dt * 1e3)
    ts.sort()
    res[c] = statistics.median(ts)
    print(f"{c:>6}: median {res[c]:.2f} ms, p90 {ts[int(len(ts) * 0.9)]:.2f} ms")
print(f"etcd / sqlite: {res['etcd'] / res['sqlite']:.2f}x (target: within 2x)")
PY

echo "== MAC claims per second, 3-member cluster"
for c in 1 4 16; do
  inns "$bench" claims "$url" "/claims-$c/vifkit/v1/" "$c" 2000
done

echo "== show with 10,000 NIC records"
inns "$bench" fill "$url" /vifkit/v1/ bench 10000 br0
inns "$bench" fill "sqlite:$work/registry.db" - bench 10000 br0
inns python3 - "$bin" "$work" <<'PY'
import statistics, subprocess, sys, time
bin, work = sys.argv[1], sys.argv[2]
for c in ["sqlite", "etcd"]:
    e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VIFKIT_CONFIG": f"{work}/{c}.toml"}
    ts = []
    for i in range(12):
        t = time.perf_counter()
        r = subprocess.run([bin, "show"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        if r.returncode != 0:
            sys.exit(f"show on {c} exited {r.returncode}: {r.stderr.decode()[:300]}")
        if i >= 2:
            ts.append((time.perf_counter() - t) * 1e3)
    lines = r.stdout.decode().count("\n")
    print(f"{c:>6}: show, 10,000 records: median {statistics.median(ts):.0f} ms ({lines} lines)")
PY
