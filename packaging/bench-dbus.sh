#!/usr/bin/env bash
# D-Bus method calls, vifkit's service against its peer libvirt-dbus, on one private bus
# with one client (examples/dbus_bench.rs: one connection per client, sequential calls,
# every call's latency recorded):
#   libvirt-dbus --session (libvirt's test:///default at /org/libvirt/Test):
#     org.libvirt.Connect.ListDomains(u 0)
#   vifkit serve --address BUS --db TMP (a registry with one NIC, 1/0):
#     org.vifkit.Pairings1.Lookup(u 1, u 0), org.vifkit.NicModels1.List(s "hvm"),
#     and org.vifkit.Translator1.VifToXml(s SPEC, s "hvm")
# COUNT (default 10000) sequential calls per case, then the same with 4 clients at once,
# and VCOUNT (default 1000) VifToXml calls. Target: vifkit >= 1.5x libvirt-dbus's
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
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
libvirt_dbus=${LIBVIRT_DBUS:-/usr/sbin/libvirt-dbus}
for t in dbus-daemon busctl "$libvirt_dbus"; do
  command -v "$t" >/dev/null || { echo "error: $t is missing (packaging/install-deps.sh)" >&2; exit 1; }
done
cargo build --release --bin vifkit --example dbus_bench >&2
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
wait_for "org.libvirt on the bus" has_owner org.libvirt

if [ "$peer_only" = 0 ]; then
  db="$work/registry.db"
  "$client" --seed-registry "$db" >&2
  VIFKIT_DB=$db "$vifkit" serve --address "$addr" --db "$db" 2> "$work/vifkit.log" &
  pids+=($!)
  wait_for "org.vifkit on the bus" has_owner org.vifkit
fi

results="$work/results.jsonl"
bench() { "$client" --address "$addr" --json "$@" | tee -a "$results" >&2; }
lv=(--dest org.libvirt --path /org/libvirt/Test --interface org.libvirt.Connect
    --method ListDomains --arg u:0)
vk=(--dest org.vifkit --path /org/vifkit)
lookup=("${vk[@]}" --interface org.vifkit.Pairings1 --method Lookup --arg u:1 --arg u:0)
models=("${vk[@]}" --interface org.vifkit.NicModels1 --method List --arg s:hvm)
vif2xml=("${vk[@]}" --interface org.vifkit.Translator1 --method VifToXml
    --arg "s:mac=00:16:3e:01:02:03,bridge=xenbr0,model=e1000,rate=10Mb/s" --arg s:hvm)

bench --label "libvirt-dbus ListDomains" --count "$count" "${lv[@]}"
if [ "$peer_only" = 0 ]; then
  bench --label "vifkit Pairings1.Lookup" --count "$count" "${lookup[@]}"
  bench --label "vifkit NicModels1.List" --count "$count" "${models[@]}"
  bench --label "vifkit Translator1.VifToXml" --count "$vcount" "${vif2xml[@]}"
fi
bench --label "libvirt-dbus ListDomains" --count "$count" --concurrency 4 "${lv[@]}"
if [ "$peer_only" = 0 ]; then
  bench --label "vifkit Pairings1.Lookup" --count "$count" --concurrency 4 "${lookup[@]}"
  bench --label "vifkit NicModels1.List" --count "$count" --concurrency 4 "${models[@]}"
  bench --label "vifkit Translator1.VifToXml" --count "$vcount" --concurrency 4 "${vif2xml[@]}"
fi

echo "# $(nproc) CPUs; $(dbus-daemon --version | head -n1); libvirt-dbus $(dpkg-query -W -f='${Version}' libvirt-dbus 2>/dev/null || echo '?')"
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'case':32} {'clients':>7} {'calls':>6} {'calls/s':>8} {'p50 us':>7} {'p99 us':>7} {'max us':>7}")
for r in rows:
    print(f"{r['label']:32} {r['clients']:>7} {r['calls']:>6} {r['calls_per_s']:>8.0f} "
          f"{r['p50_us']:>7.0f} {r['p99_us']:>7.0f} {r['max_us']:>7.0f}")
def get(label, clients=1):
    return next((r for r in rows if r["label"] == label and r["clients"] == clients), None)
peer = get("libvirt-dbus ListDomains")
for label in ("vifkit Pairings1.Lookup", "vifkit NicModels1.List"):
    v = get(label)
    if v:
        ratio = v["calls_per_s"] / peer["calls_per_s"]
        ok = ratio >= 1.5 and v["p99_us"] <= peer["p99_us"]
        print(f"{label}: {ratio:.2f}x libvirt-dbus's calls/s, p99 {v['p99_us']:.0f} us vs "
              f"{peer['p99_us']:.0f} us: {'meets' if ok else 'MISSES'} the target "
              "(>= 1.5x, p99 no worse)")
PY
