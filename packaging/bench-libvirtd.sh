#!/usr/bin/env bash
# vifkit's libvirt hooks as libvirt users feel them: a real libvirtd and a 3-NIC QEMU
# guest (TCG, 64 MiB, no disk; e1000, rtl8139, virtio) on three existing, registered
# Linux bridges, started and destroyed RUNS times (default 30).
#
# Three private daemons run side by side, each started as tests/common/libvirtd.rs starts
# one (tests/libvirtd/private-root.sh: its own network, mount and PID namespaces), with
# libvirt's debug log for hooks and commands (LIBVIRT_LOG_FILTERS="1:util.hook
# 1:util.command 3:*"):
#   vifkit  the release vifkit (static, as packaged) installed with install-hooks --root
#   true    /bin/true as every hook: the floor of libvirt's own fork/exec of a hook
#   none    no hooks
# Each cycle starts and destroys the guest on each daemon, in an order that alternates.
#
# Printed: per hook (prepare, start, started, stopped, release) the median and p90 of
# its time inside libvirtd, from the debug log's timestamps ("Calling hook" to the hook
# command's "Result" line, same thread), for vifkit and for /bin/true; and the median
# wall time of `virsh start` for each daemon, with the paired ratio vifkit/none (each
# cycle's two starts side by side).
#
# Needs root, iproute2, util-linux, libvirt-daemon-system, qemu-system-x86, python3.
# Honours CARGO_TARGET_DIR and RUNS. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
runs=${RUNS:-30}
bash packaging/build-release.sh >&2
bin="$target/release/vifkit"
caps="$target/tmp/libvirt-qemu-caps"
work=$(mktemp -d /tmp/vk-bench-libvirtd.XXXXXX)
declare -A unshare_pid init_pid
cleanup() {
  # Killing a namespace's init kills all of it; its unshare then exits.
  for k in "${!init_pid[@]}"; do kill -KILL "${init_pid[$k]}" 2>/dev/null || true; done
  for k in "${!unshare_pid[@]}"; do
    [ -n "${init_pid[$k]:-}" ] || kill -KILL "${unshare_pid[$k]}" 2>/dev/null || true
  done
  for k in "${!unshare_pid[@]}"; do wait "${unshare_pid[$k]}" 2>/dev/null || true; done
  for k in vifkit true none; do ip netns del "vk-bench-lv-$$-$k" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# daemon NAME: a private libvirtd in namespaces of its own, hooks as NAME says.
daemon() {
  local name=$1 ns="vk-bench-lv-$$-$1" dir="$work/$1"
  mkdir -p "$dir"
  ip netns add "$ns"
  ip netns exec "$ns" unshare --mount --pid --fork --kill-child \
    "$repo/tests/libvirtd/private-root.sh" "$dir" "$caps" >/dev/null 2>"$dir/root.err" &
  unshare_pid[$name]=$!
  for _ in $(seq 500); do [ -e "$dir/ready" ] && break; sleep 0.02; done
  [ -e "$dir/ready" ] || { cat "$dir/root.err" >&2; exit 1; }
  local init
  read -r init _ <"/proc/${unshare_pid[$name]}/task/${unshare_pid[$name]}/children" || true
  init_pid[$name]=$init
  in_ns() { nsenter -t "$init" -m -p -n -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"; }
  case $name in
    vifkit) "$bin" install-hooks --root "/proc/$init/root" --bin "$bin" >/dev/null ;;
    true)
      in_ns sh -c 'for d in qemu network; do mkdir -p /etc/libvirt/hooks/$d.d &&
        ln -s /bin/true /etc/libvirt/hooks/$d.d/50-true; done' ;;
    none) ;;
  esac
  for b in br0 br1 br2; do
    ip -n "$ns" link add "$b" type bridge
    ip -n "$ns" link set "$b" up
    "$bin" --db "$dir/registry.db" bridge add "$b" >/dev/null
  done
  in_ns virtlogd -d -p /run/virtlogd.pid
  in_ns LIBVIRT_LOG_FILTERS="1:util.hook 1:util.command 3:*" \
    LIBVIRT_LOG_OUTPUTS="1:file:$dir/libvirtd.log" libvirtd -d -p /run/libvirtd.pid
  local uri="qemu:///system?socket=$dir/run/libvirt/libvirt-sock"
  local t=0
  until virsh -q -c "$uri" list >/dev/null 2>&1; do
    ((t++ < 600)) || { echo "$name: libvirtd does not answer" >&2; tail "$dir/libvirtd.log" >&2; exit 1; }
    sleep 0.1
  done
  cat >"$dir/g.xml" <<EOF
<domain type='qemu'>
  <name>g</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <interface type='bridge'><source bridge='br0'/><mac address='52:54:00:00:00:01'/><model type='e1000'/></interface>
    <interface type='bridge'><source bridge='br1'/><mac address='52:54:00:00:00:02'/><model type='rtl8139'/></interface>
    <interface type='bridge'><source bridge='br2'/><mac address='52:54:00:00:00:03'/><model type='virtio'/></interface>
  </devices>
</domain>
EOF
  virsh -q -c "$uri" define "$dir/g.xml" >/dev/null
}
for d in vifkit true none; do daemon "$d"; done

python3 - "$work" "$runs" <<'PY'
import os, re, statistics, subprocess, sys, time
work, runs = sys.argv[1], int(sys.argv[2])
names = ["vifkit", "true", "none"]
env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": work}
def virsh(name, *args):
    uri = f"qemu:///system?socket={work}/{name}/run/libvirt/libvirt-sock"
    t = time.perf_counter()
    r = subprocess.run(["virsh", "-q", "-c", uri, *args], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{name}: virsh {' '.join(args)}: {r.stderr.decode().strip()}")
    return dt
# Warm-up: one cycle each (QEMU's pages, libvirt's caches), not counted.
for n in names:
    virsh(n, "start", "g"); virsh(n, "destroy", "g")
for n in names:
    open(f"{work}/{n}/libvirtd.log", "w").close()   # the counted cycles only
starts = {n: [] for n in names}
for i in range(runs):
    order = names if i % 2 == 0 else names[::-1]
    for n in order:
        starts[n].append(virsh(n, "start", "g"))
        virsh(n, "destroy", "g")

stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:(\d\d\.\d+))\+0000: (\d+): ")
def hook_times(name):
    """Per op, the ms from 'Calling hook' to its command's 'Result' line (same thread)."""
    out, open_calls = {}, {}
    def secs(m):
        hh, mm = m.group(1)[11:13], m.group(1)[14:16]
        return int(hh) * 3600 + int(mm) * 60 + float(m.group(2))
    for line in open(f"{work}/{name}/libvirtd.log", errors="replace"):
        m = stamp.match(line)
        if not m:
            continue
        t, thread = secs(m), m.group(3)
        if "Calling hook" in line:
            op = re.search(r" op=(\S+)", line).group(1)
            open_calls[thread] = (op, t)
        elif "virCommandRun:" in line and " Result " in line and thread in open_calls:
            op, t0 = open_calls.pop(thread)
            out.setdefault(op, []).append((t - t0) * 1000)
    return out
def med(v): return statistics.median(v)
def p90(v): return sorted(v)[max(0, int(round(0.9 * len(v))) - 1)]
hv, ht = hook_times("vifkit"), hook_times("true")
ops = ["prepare", "start", "started", "stopped", "release"]
print(f"{runs} start/destroy cycles of a 3-NIC guest on existing bridges; ms inside libvirtd")
print(f"{'hook':<9} {'vifkit med':>10} {'p90':>6} {'/bin/true med':>13} {'p90':>6} {'n':>4}")
for op in ops:
    a, b = hv.get(op, []), ht.get(op, [])
    if not a or not b:
        sys.exit(f"no timings of the {op} hook in the debug log")
    print(f"{op:<9} {med(a):>10.1f} {p90(a):>6.1f} {med(b):>13.1f} {p90(b):>6.1f} {len(a):>4}")
def cycle_sum(h, which):
    return [sum(x) for x in zip(*(h[o] for o in which))]
for label, which in [("prepare+start+started", ops[:3]), ("stopped+release", ops[3:])]:
    a, b = cycle_sum(hv, which), cycle_sum(ht, which)
    print(f"{label:<22} vifkit median {med(a):.1f} ms (p90 {p90(a):.1f}), "
          f"/bin/true {med(b):.1f} ms")
print("virsh start, wall time (ms): median, p90")
for n in names:
    v = [x * 1000 for x in starts[n]]
    print(f"  hooks {n:<7} {med(v):7.1f} {p90(v):7.1f}")
ratio = [a / b for a, b in zip(starts["vifkit"], starts["none"])]
ratio_t = [a / b for a, b in zip(starts["true"], starts["none"])]
print(f"paired ratio vifkit/none: median {med(ratio):.3f} (p10 {sorted(ratio)[len(ratio)//10]:.3f}, "
      f"p90 {p90(ratio):.3f}); /bin/true/none: median {med(ratio_t):.3f}")
PY
