#!/usr/bin/env bash
# The memory of `vifkit serve` under a flood of large requests (issue #20): CONNS
# (default 100) connections each send CALLS (default 20) Translator1.XmlToVif calls of
# SIZE (default 1048000) bytes back to back (examples/dbus_flood.rs), on a private
# bus. Prints the service's resident size before (idle), its peak (VmHWM) and its size
# 2 s after the last reply, with how many calls were answered and how many refused
# with LimitsExceeded. Target: peak under ~100 MB, the size after near the idle one.
#
#   packaging/bench-dbus-flood.sh
#
# INTERFACES=1 fills each document with <interface> elements instead of a description.
# "refused by vifkit" counts the service's LimitsExceeded, "by the bus" dbus-daemon's.
#
# Needs dbus-daemon and busctl (packaging/install-deps.sh). Honours CARGO_TARGET_DIR;
# VIFKIT=PATH measures another vifkit binary (e.g. a debug build), PROFILE=debug builds
# and measures the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
conns=${CONNS:-100}
calls=${CALLS:-20}
size=${SIZE:-1048000}
profile=${PROFILE:-release}
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
for t in dbus-daemon busctl; do
  command -v "$t" >/dev/null || { echo "error: $t is missing (packaging/install-deps.sh)" >&2; exit 1; }
done
if [ "$profile" = release ]; then
  cargo build --release --locked --bin vifkit --example dbus_flood >&2
else
  cargo build --locked --bin vifkit --example dbus_flood >&2
fi
client="$target/$profile/examples/dbus_flood"
vifkit=${VIFKIT:-$target/$profile/vifkit}

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# BUS=system keeps dbus-daemon's built-in limits (those of Debian's system bus: 127 MB
# queued per connection, beyond which the bus itself answers LimitsExceeded); the
# default, BUS=session, lifts them as Debian's session bus does, so that only the
# service stands between the flood and its memory.
limits=""
if [ "${BUS:-session}" = session ]; then
  limits='  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
  <limit name="max_message_size">1000000000</limit>
  <limit name="max_replies_per_connection">50000</limit>'
fi
cat > "$work/bus.conf" <<CONF
<busconfig>
  <type>session</type>
  <listen>unix:path=$work/bus</listen>
  <auth>EXTERNAL</auth>
$limits
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$work/bus.conf" --nofork --nopidfile --print-address=1 \
  > "$work/address" 2> "$work/dbus-daemon.log" &
pids+=($!)
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
"$vifkit" serve --address "$addr" --db "$work/registry.db" 2> "$work/vifkit.log" &
pids+=($!)
vk=$!
wait_for "org.vifkit on the bus" has_owner org.vifkit
# A few small calls first, so that the idle size is that of a service that has answered.
for _ in 1 2 3; do
  busctl --address="$addr" call org.vifkit /org/vifkit org.vifkit.Translator1 VifToXml ss \
    "bridge=xenbr0" hvm >/dev/null
done
kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$vk/status"; }
idle=$(kb VmRSS)
t0=$SECONDS
tally=$("$client" --address "$addr" --connections "$conns" --calls "$calls" --size "$size" \
  ${INTERFACES:+--interfaces})
took=$((SECONDS - t0))
peak=$(kb VmHWM)
sleep 2
after=$(kb VmRSS)
echo "# $(nproc) CPUs; $vifkit; ${BUS:-session} bus limits; $conns connections x $calls XmlToVif calls of $size bytes"
echo "$tally (${took} s)"
awk -v i="$idle" -v p="$peak" -v a="$after" 'BEGIN { printf "idle %.1f MB, peak %.1f MB, after %.1f MB\n", i / 1024, p / 1024, a / 1024 }'
