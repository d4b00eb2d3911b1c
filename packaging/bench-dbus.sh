#!/usr/bin/env bash
# D-Bus method calls, vifkit's service against its peer libvirt-dbus, on one private bus
# with one client (examples/dbus_bench.rs: one connection per client, sequential calls,
# every call's latency recorded):
#   libvirt-dbus --session (libvirt's test:///default at /org/libvirt/Test):
#     org.libvirt.Connect.ListDomains(u 0)
#   vifkit serve --address BUS --db TMP (a registry with one NIC, 1/0):
#     org.vifkit.Pairings1.Lookup(s "xen", u 1, u 0), org.vifkit.NicModels1.List(s "hvm"),
#     and org.vifkit.Translator1.VifToXml(s SPEC, s "hvm")
# COUNT (default 10000) sequential calls per case, then the same with 4 clients at once,
# and VCOUNT (default 1000) VifToXml calls; ROUNDS (default 3) rounds, median shown.
# "CPU us" is the service's own CPU time per call (all its threads, from /proc; the
# clock tick is 10 ms, so it is coarse for the short cases): unlike calls/s, it hardly
# moves with other load on the machine. Target: vifkit >= 1.5x libvirt-dbus's
# calls/s with a p99 no worse, in the same run.
#
#   packaging/bench-dbus.sh [--peer-only]
#
# --peer-only measures libvirt-dbus alone (for a vifkit without `serve`). Needs
# dbus-daemon, busctl, libvirt-dbus (packaging/install-deps.sh). Honours
# CARGO_TARGET_DIR; VIFKIT=PATH measures another vifkit binary.
set -euo pipefail
cd "$(dirname "$0")/.."
peer_only=0
case "${1:-}" in
  --peer-only) peer_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--peer-only]" >&2; exit 2 ;;
esac
count=${COUNT:-10000}
vcount=${VCOUNT:-1000}
rounds=${ROUNDS:-3}
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
libvirt_dbus=${LIBVIRT_DBUS:-/usr/sbin/libvirt-dbus}
for t in dbus-daemon busctl "$libvirt_dbus"; do
  command -v "$t" >/dev/null || { echo "error: $t is missing (packaging/install-deps.sh)" >&2; exit 1; }
done
cargo build --release --example dbus_bench >&2
bash packaging/build-release.sh >&2   # vifkit as packaged (static)
client="$target/release/examples/dbus_bench"
vifkit=${VIFKIT:-$target/release/vifkit}
if [ "$peer_only" = 0 ] && ! "$vifkit" serve --help >/dev/null 2>&1; then
  echo "error: $vifkit has no \`serve\` command (the D-Bus service is not in this build);" \
       "run with --peer-only to measure libvirt-dbus alone" >&2
  exit 1
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A session-type bus that lets everything through and activates nothing.
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

# Polls "$@" until it succeeds, for at most 10 s.
wait_for() {
  local what=$1; shift
  local deadline=$((SECONDS + 10))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "error: timed out waiting for $what" >&2; exit 1; fi
    sleep 0.02
  done
}
wait_for "the bus address" grep -q '^unix:' "$work/address"
addr=$(head -n1 "$work/address")
has_owner() {
  busctl --address="$addr" call org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus NameHasOwner s "$1" | grep -q '^b true$'
}

DBUS_SESSION_BUS_ADDRESS=$addr "$libvirt_dbus" --session 2> "$work/libvirt-dbus.log" &
pids+=($!)
lv_pid=$!
wait_for "org.libvirt on the bus" has_owner org.libvirt

if [ "$peer_only" = 0 ]; then
  db="$work/registry.db"
  "$client" --seed-registry "$db" >&2
  VIFKIT_DB=$db "$vifkit" serve --address "$addr" --db "$db" 2> "$work/vifkit.log" &
  pids+=($!)
  vk_pid=$!
  wait_for "org.vifkit on the bus" has_owner org.vifkit
fi

results="$work/results.jsonl"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# CPU time (user + system, clock ticks) of process $1 and all its threads.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))
# bench PID ARGS...: one case, its JSON line with the service's CPU time per call added.
bench() {
  local pid=$1; shift
  local t0 line
  t0=$(cpu_ticks "$pid")
  line=$("$client" --address "$addr" --json "$@")
  echo "${line%\}},\"service_cpu_us\":$(( ($(cpu_ticks "$pid") - t0) * tick_us ))}" \
    | tee -a "$results" >&2
}
lv=(--dest org.libvirt --path /org/libvirt/Test --interface org.libvirt.Connect
    --method ListDomains --arg u:0)
vk=(--dest org.vifkit --path /org/vifkit)
lookup=("${vk[@]}" --interface org.vifkit.Pairings1 --method Lookup --arg s:xen --arg u:1 --arg u:0)
models=("${vk[@]}" --interface org.vifkit.NicModels1 --method List --arg s:hvm)
vif2xml=("${vk[@]}" --interface org.vifkit.Translator1 --method VifToXml
    --arg "s:mac=00:16:3e:01:02:03,bridge=xenbr0,model=e1000,rate=10Mb/s" --arg s:hvm)

# The cases take turns, ROUNDS times, so that a burst of other load on the machine hits
# every one of them alike; the table shows each case's median round.
for ((round = 1; round <= rounds; round++)); do
  bench "$lv_pid" --label "libvirt-dbus ListDomains" --count "$count" "${lv[@]}"
  if [ "$peer_only" = 0 ]; then
    bench "$vk_pid" --label "vifkit Pairings1.Lookup" --count "$count" "${lookup[@]}"
    bench "$vk_pid" --label "vifkit NicModels1.List" --count "$count" "${models[@]}"
    bench "$vk_pid" --label "vifkit Translator1.VifToXml" --count "$vcount" "${vif2xml[@]}"
  fi
  bench "$lv_pid" --label "libvirt-dbus ListDomains" --count "$count" --concurrency 4 "${lv[@]}"
  if [ "$peer_only" = 0 ]; then
    bench "$vk_pid" --label "vifkit Pairings1.Lookup" --count "$count" --concurrency 4 "${lookup[@]}"
    bench "$vk_pid" --label "vifkit NicModels1.List" --count "$count" --concurrency 4 "${models[@]}"
    bench "$vk_pid" --label "vifkit Translator1.VifToXml" --count "$vcount" --concurrency 4 "${vif2xml[@]}"
  fi
done

echo "# $(nproc) CPUs; $(dbus-daemon --version | head -n1); libvirt-dbus $(dpkg-query -W -f='${Version}' libvirt-dbus 2>/dev/null || echo '?')"
echo "# load average before: $load0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" <<'PY'
import json, sys
from statistics import median
rows = [json.loads(l) for l in open(sys.argv[1])]
cases = {}
for r in rows:
    cases.setdefault((r["label"], r["clients"]), []).append(r)
def mid(rs):
    """The median round by calls/s."""
    return sorted(rs, key=lambda r: r["calls_per_s"])[(len(rs) - 1) // 2]
print(f"{'case (median of ' + str(max(map(len, cases.values()))) + ' rounds)':34} {'clients':>7} "
      f"{'calls':>6} {'calls/s':>8} {'p50 us':>7} {'p99 us':>7} {'CPU us':>7}   calls/s of each round")
for (label, clients), rs in cases.items():
    m = mid(rs)
    each = " ".join(f"{r['calls_per_s']:.0f}" for r in rs)
    print(f"{label:34} {clients:>7} {m['calls']:>6} {m['calls_per_s']:>8.0f} "
          f"{median(r['p50_us'] for r in rs):>7.0f} {median(r['p99_us'] for r in rs):>7.0f} "
          f"{median(r['service_cpu_us'] / (r['calls'] + r['warmup_calls']) for r in rs):>7.1f}   {each}")
peer = cases.get(("libvirt-dbus ListDomains", 1))
for label in ("vifkit Pairings1.Lookup", "vifkit NicModels1.List"):
    v = cases.get((label, 1))
    if v and peer:
        # Each round's ratio compares two cases measured moments apart.
        ratio = median(a["calls_per_s"] / b["calls_per_s"] for a, b in zip(v, peer))
        p99v, p99p = median(r["p99_us"] for r in v), median(r["p99_us"] for r in peer)
        ok = ratio >= 1.5 and p99v <= p99p
        print(f"{label}: {ratio:.2f}x libvirt-dbus's calls/s (median of the rounds' ratios), "
              f"p99 {p99v:.0f} us vs {p99p:.0f} us: {'meets' if ok else 'MISSES'} the target "
              "(>= 1.5x, p99 no worse)")
PY
