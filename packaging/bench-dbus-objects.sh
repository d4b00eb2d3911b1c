#!/usr/bin/env bash
# The D-Bus object model with many NICs: NICS (default 10000) NICs recorded (ten per
# domain, on one bridge), then on a private bus:
#   - how long `vifkit serve` takes to own org.vifkit (it makes every object first);
#   - GetManagedObjects at /org/vifkit from a zbus client (examples/dbus_bench.rs: one
#     connection, sequential calls, COUNT (default 30) measured after 3 unmeasured),
#     median and p99 latency, and the service's CPU time per call; target: median
#     under 100 ms;
#   - the same through `busctl --json=short` (its own parsing and printing included),
#     median of 5;
#   - Introspect of /org/vifkit (zbus describes the whole subtree, every NIC object
#     included): its size and time through busctl, median of 5;
#   - `vifkit bridge add` while the objects exist: time until its InterfacesAdded is on
#     the bus (a `busctl monitor` started first; the CLI's own run included), median
#     of 5.
#
#   packaging/bench-dbus-objects.sh
#
# Needs dbus-daemon and busctl (packaging/install-deps.sh). Honours CARGO_TARGET_DIR;
# VIFKIT=PATH measures another vifkit binary.
set -euo pipefail
cd "$(dirname "$0")/.."
nics=${NICS:-10000}
count=${COUNT:-30}
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
for t in dbus-daemon busctl python3; do
  command -v "$t" >/dev/null || { echo "error: $t is missing (packaging/install-deps.sh)" >&2; exit 1; }
done
cargo build --release --bin vifkit --example dbus_bench >&2
client="$target/release/examples/dbus_bench"
vifkit=${VIFKIT:-$target/release/vifkit}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/bus.conf" <<EOF
<busconfig>
  <type>session</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile --print-address=1 \
  > "$work/address" 2> "$work/dbus-daemon.log" &
pids+=($!)

# Polls "$@" until it succeeds, for at most 120 s.
wait_for() {
  local what=$1; shift
  local deadline=$((SECONDS + 120))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "error: timed out waiting for $what" >&2; exit 1; fi
    sleep 0.01
  done
}
wait_for "the bus address" grep -q '^unix:' "$work/address"
addr=$(head -n1 "$work/address")
has_owner() {
  busctl --address="$addr" call org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus NameHasOwner s "$1" | grep -q '^b true$'
}
now_ms() { date +%s%3N; }

db="$work/registry.db"
"$client" --seed-registry "$db" --seed-nics "$nics" >&2
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(now_ms)
VIFKIT_DB=$db "$vifkit" serve --address "$addr" --db "$db" 2> "$work/vifkit.log" &
pids+=($!)
vk_pid=$!
wait_for "org.vifkit on the bus" has_owner org.vifkit
start_ms=$(( $(now_ms) - t0 ))

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))
c0=$(cpu_ticks "$vk_pid")
gmo=$("$client" --address "$addr" --json --label GetManagedObjects --count "$count" --warmup 3 \
  --dest org.vifkit --path /org/vifkit --interface org.freedesktop.DBus.ObjectManager \
  --method GetManagedObjects)
cpu_us=$(( ($(cpu_ticks "$vk_pid") - c0) * tick_us / (count + 3) ))

# median_ms CMD...: the median wall time of 5 runs of CMD, in ms.
median_ms() {
  local ts=()
  for _ in 1 2 3 4 5; do
    local s; s=$(now_ms)
    "$@" > /dev/null
    ts+=($(( $(now_ms) - s )))
  done
  printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p
}
busctl_gmo_ms=$(median_ms busctl --address="$addr" --json=short call org.vifkit /org/vifkit \
  org.freedesktop.DBus.ObjectManager GetManagedObjects)
objects=$(busctl --address="$addr" --json=short call org.vifkit /org/vifkit \
  org.freedesktop.DBus.ObjectManager GetManagedObjects |
  python3 -c 'import json,sys; d=json.load(sys.stdin)["data"][0]; print(sum(1 for v in d.values() if v))')
introspect_ms=$(median_ms busctl --address="$addr" --xml-interface introspect org.vifkit /org/vifkit)
introspect_bytes=$(busctl --address="$addr" --xml-interface introspect org.vifkit /org/vifkit | wc -c)

# A bridge registered by another process (the CLI) while the objects exist: until its
# InterfacesAdded is on the bus.
added=()
for i in 1 2 3 4 5; do
  busctl --address="$addr" --json=short monitor org.vifkit > "$work/monitor.$i" 2>&1 &
  mon=$!
  pids+=($mon)
  wait_for "busctl monitor" grep -q Monitoring "$work/monitor.$i"
  s=$(now_ms)
  VIFKIT_DB=$db "$vifkit" --db "$db" bridge add "vkb$i" >/dev/null
  wait_for "InterfacesAdded" grep -q "/org/vifkit/bridges/vkb$i" "$work/monitor.$i"
  added+=($(( $(now_ms) - s )))
  kill "$mon" 2>/dev/null || true
done
added_ms=$(printf '%s\n' "${added[@]}" | sort -n | sed -n 3p)

echo "# $(nproc) CPUs; $(dbus-daemon --version | head -n1)"
echo "# load average before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$gmo" "$nics" "$objects" "$start_ms" "$cpu_us" "$busctl_gmo_ms" "$introspect_ms" \
  "$introspect_bytes" "$added_ms" <<'PY'
import json, sys
g = json.loads(sys.argv[1])
nics, objects, start, cpu, busctl, intro_ms, intro_bytes, added = sys.argv[2:]
print(f"{nics} NICs recorded, {objects} objects with interfaces (bridges and NICs)")
print(f"serve owns org.vifkit after          {int(start):>8} ms (every object made first)")
print(f"GetManagedObjects, zbus client: median {g['p50_us'] / 1000:>8.1f} ms, p99 "
      f"{g['p99_us'] / 1000:.1f} ms ({g['calls']} calls), service CPU {int(cpu) / 1000:.1f} ms/call: "
      f"{'meets' if g['p50_us'] < 100_000 else 'MISSES'} the target (< 100 ms)")
print(f"GetManagedObjects, busctl --json:    {int(busctl):>8} ms (median of 5, busctl's printing included)")
print(f"Introspect /org/vifkit, busctl:      {int(intro_ms):>8} ms, {int(intro_bytes) / 1e6:.1f} MB (median of 5)")
print(f"bridge add -> InterfacesAdded seen:  {int(added):>8} ms (median of 5, the CLI's run included)")
PY
