#!/usr/bin/env bash
# The D-Bus service on an etcd registry: how long from another host's write to the
# signal. A three-member etcd cluster on loopback inside a private network namespace,
# `vifkit serve` of host h1 (in the namespace) on a private dbus-daemon, `busctl
# monitor` as the client; host h2's CLI (`vifkit bridge add brN`, then `bridge del
# brN`, whole processes) writes, and the time to the BridgeAdded / BridgeRemoved
# signal is taken from the write's start and from its exit (the commit is before the
# exit, so the second can be negative: the signal came while the process ended).
# Median and p90 of RUNS (default 50) writes of each kind. Needs root, iproute2,
# python3, etcd (etcd-server), dbus-daemon, busctl (systemd). Honours CARGO_TARGET_DIR,
# RUNS, and BIN (a vifkit binary to use instead of building the release one).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
if [ -z "${BIN:-}" ]; then
  bash packaging/build-release.sh >&2
  BIN="$target/release/vifkit"
fi
bin=$(realpath "$BIN")
ns="vk-bench-dbus-etcd-$$"
work=$(mktemp -d)
chmod 755 "$work"
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

initial=""
for i in 0 1 2; do initial+="m$i=http://127.0.0.1:$((23810 + i)),"; done
initial=${initial%,}
for i in 0 1 2; do
  ip netns exec "$ns" etcd --name "m$i" --data-dir "$work/m$i" \
    --listen-client-urls "http://127.0.0.1:$((23820 + i))" \
    --advertise-client-urls "http://127.0.0.1:$((23820 + i))" \
    --listen-peer-urls "http://127.0.0.1:$((23810 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((23810 + i))" \
    --initial-cluster "$initial" --initial-cluster-state new \
    --initial-cluster-token vifkit-bench >"$work/m$i.log" 2>&1 &
  pids+=($!)
done
url="etcd://127.0.0.1:23820,127.0.0.1:23821,127.0.0.1:23822"
eps="http://127.0.0.1:23820,http://127.0.0.1:23821,http://127.0.0.1:23822"
for _ in $(seq 100); do
  ETCDCTL_API=3 inns etcdctl --endpoints "$eps" put /probe 1 >/dev/null 2>&1 && break
  sleep 0.2
done
ETCDCTL_API=3 inns etcdctl --endpoints "$eps" put /probe 1 >/dev/null
for h in h1 h2; do
  printf 'registry = "%s"\nhost = "%s"\n' "$url" "$h" >"$work/$h.toml"
done

cat >"$work/bus.conf" <<XML
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
  </policy>
</busconfig>
XML
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/bus" ] && break; sleep 0.05; done
addr="unix:path=$work/bus"
ip netns exec "$ns" env VIFKIT_CONFIG="$work/h1.toml" "$bin" serve --address "$addr" \
  2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 200); do grep -q "org.vifkit on" "$work/serve.log" && break; sleep 0.05; done
grep -q "org.vifkit on" "$work/serve.log" || { cat "$work/serve.log" >&2; exit 1; }

echo "== another host's write to the signal (RUNS=${RUNS:-50} of each), load: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$bin" "$work" "$addr" "$ns" "${RUNS:-50}" <<'PY'
import json, queue, statistics, subprocess, sys, threading, time
bin, work, addr, ns, runs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
mon = subprocess.Popen(["busctl", f"--address={addr}", "--json=short", "monitor"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
ready = threading.Event()
def err():
    for l in mon.stderr:
        if "Monitoring" in l:
            ready.set()
threading.Thread(target=err, daemon=True).start()
got = queue.Queue()
def out():
    for l in mon.stdout:
        t = time.perf_counter()
        try:
            v = json.loads(l)
        except ValueError:
            continue
        if v.get("type") == "signal" and v.get("path") == "/org/vifkit":
            got.put((t, v["member"], v["payload"]["data"][0]))
threading.Thread(target=out, daemon=True).start()
if not ready.wait(10):
    sys.exit("busctl monitor did not start")
env = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "VIFKIT_CONFIG": f"{work}/h2.toml"}
def write(args, member, name):
    t0 = time.perf_counter()
    r = subprocess.run(["ip", "netns", "exec", ns, bin] + args, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t1 = time.perf_counter()
    if r.returncode != 0:
        sys.exit(f"{args}: {r.stderr.decode()}")
    while True:
        t2, m, arg = got.get(timeout=30)
        if m == member and arg == name:
            return (t2 - t0) * 1e3, (t2 - t1) * 1e3
res = {"BridgeAdded": [], "BridgeRemoved": []}
for i in range(runs + 5):
    name = f"bench{i}"
    a = write(["bridge", "add", name], "BridgeAdded", name)
    r = write(["bridge", "del", name], "BridgeRemoved", name)
    if i >= 5:
        res["BridgeAdded"].append(a)
        res["BridgeRemoved"].append(r)
def p90(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
for m, xs in res.items():
    start = [x[0] for x in xs]
    end = [x[1] for x in xs]
    print(f"{m:14} from the write's start: median {statistics.median(start):6.1f} ms, "
          f"p90 {p90(start):6.1f} ms; from its exit: median {statistics.median(end):6.1f} ms, "
          f"p90 {p90(end):6.1f} ms")
mon.kill()
PY
