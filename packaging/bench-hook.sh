#!/usr/bin/env bash
# The libvirt `started` hook of a QEMU guest with 8 NICs on 2 existing, registered
# bridges, as libvirt runs it: a whole `vifkit hook qemu g8 started begin -` process with
# the domain XML on stdin and the minimal environment libvirt gives (LC_ALL=C, PATH),
# including the registry write (8 records, one transaction, synchronous=FULL), in a
# private network namespace. Before every timed run (not timed) the `stopped` hook drops
# the records again, so every run writes them. hyperfine 1.15 cannot feed stdin, so the
# timing loop is a few lines of Python around fork/exec/wait (median and p90 of RUNS);
# /bin/true through the same loop gives the process-spawn floor of this machine.
# Needs root, iproute2, python3. Honours CARGO_TARGET_DIR and RUNS (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
bash packaging/build-release.sh >&2
bin="$target/release/vifkit"
ns="vk-bench-hook-$$"
work=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ip netns add "$ns"
db="$work/registry.db"
for b in br0 br1; do
  ip -n "$ns" link add "$b" type bridge
  ip -n "$ns" link set "$b" up
  "$bin" --db "$db" bridge add "$b"
done
{
  echo "<domain type='kvm' id='8'>"
  echo "  <name>g8</name>"
  echo "  <uuid>6f1a2d7d-0b2f-4c3e-9b1b-7d6a4d5e1a11</uuid>"
  echo "  <os>"
  echo "    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>"
  echo "  </os>"
  echo "  <devices>"
  for i in 0 1 2 3 4 5 6 7; do
    echo "    <interface type='bridge'>"
    echo "      <mac address='52:54:00:00:08:0$i'/>"
    echo "      <source bridge='br$((i % 2))'/>"
    echo "      <target dev='vnet8$i'/>"
    echo "      <model type='virtio'/>"
    echo "      <alias name='net$i'/>"
    echo "    </interface>"
  done
  echo "  </devices>"
  echo "</domain>"
} > "$work/g8.xml"
ip netns exec "$ns" python3 - "$bin" "$db" "$work/g8.xml" "${RUNS:-300}" <<'PY'
import os, statistics, subprocess, sys, time
bin, db, xml, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
def run(args, stdin_path):
    with open(stdin_path, "rb") as f:
        t = time.perf_counter()
        r = subprocess.run(args, stdin=f, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env)
        dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{args} exited {r.returncode}")
    return dt
started = [bin, "--db", db, "hook", "qemu", "g8", "started", "begin", "-"]
stopped = [bin, "--db", db, "hook", "qemu", "g8", "stopped", "end", "-"]
def bench(args, reset):
    ts = []
    for i in range(runs + 20):
        if reset:
            run(stopped, xml)
        dt = run(args, xml)
        if i >= 20:
            ts.append(dt * 1e3)
    ts.sort()
    return statistics.median(ts), ts[int(len(ts) * 0.9)]
m, p = bench(["/bin/true"], False)
print(f"/bin/true (spawn floor):              median {m:.3f} ms, p90 {p:.3f} ms")
m, p = bench(started, True)
print(f"started, 8 NICs, records written:     median {m:.3f} ms, p90 {p:.3f} ms (target < 5 ms)")
m, p = bench(started, False)
print(f"started again, records already there: median {m:.3f} ms, p90 {p:.3f} ms")
PY
