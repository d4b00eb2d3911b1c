#!/usr/bin/env bash
# Registry reads beside a writer, and the `started` hook against a big registry, as whole
# processes (the timing loop is a few lines of Python around fork/exec/wait: median and
# p90 of RUNS, after 20 untimed runs), in a private network namespace with two bridges:
#   1. `bridge list` and `show`, as root and as uid 65534 (setpriv), with no writer and
#      while another process holds the registry's write lock (the sqlite3 shell in
#      `BEGIN EXCLUSIVE` with an uncommitted UPDATE, started before and ended after the
#      series). Target: under 50 ms while the lock is held.
#   2. `vifkit hook qemu g8 started begin -` (8 NICs on the 2 registered bridges, the
#      records written every run: the `stopped` hook drops them first, untimed) against
#      a registry holding only the bridges, and against one that also holds 16,000
#      records of 2,000 other guests, the two in turn run by run. Target: flat.
# /bin/true through the same loop gives the process-spawn floor.
# Needs root (setpriv, ip netns), iproute2, sqlite3, python3. Honours CARGO_TARGET_DIR,
# RUNS (default 200) and VIFKIT_BIN (time that binary instead of building the release
# one as packaged).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${VIFKIT_BIN:-}" ]; then
  src=$(realpath "$VIFKIT_BIN")
else
  target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
  bash packaging/build-release.sh >&2
  src="$target/release/vifkit"
fi
ns="vk-bench-reg-$$"
work=$(mktemp -d)
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
chmod 755 "$work"
# A copy uid 65534 may run whatever the build directory's permissions.
bin="$work/vifkit"
cp "$src" "$bin"
chmod 755 "$bin"
ip netns add "$ns"
for db in small big; do
  mkdir -m 755 "$work/$db"
  for b in br0 br1; do
    "$bin" --db "$work/$db/registry.db" bridge add "$b"
  done
done
for b in br0 br1; do
  ip -n "$ns" link add "$b" type bridge
  ip -n "$ns" link set "$b" up
done
# 16,000 records: guests 100 to 2099, 8 NICs each, on br0 and br1.
sqlite3 "$work/big/registry.db" <<'SQL'
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 15999)
INSERT INTO attachments (domid, devid, domain_name, domain_uuid, backend, emulated, mac,
                         bridge, vlan, guest_name, state)
SELECT 100 + i / 8, i % 8, 'guest' || (100 + i / 8), NULL,
       'vif' || (100 + i / 8) || '.' || (i % 8), NULL,
       printf('02:00:%02x:%02x:00:%02x', (100 + i / 8) / 256, (100 + i / 8) % 256, i % 8),
       'br' || (i % 2), NULL, NULL, 'active'
FROM n;
UPDATE generation SET value = value + 1;
SQL
# Opened (and closed) once by vifkit, which keeps the -wal/-shm files readers need.
for db in small big; do "$bin" --db "$work/$db/registry.db" bridge list >/dev/null; done
[ "$("$bin" --db "$work/big/registry.db" show --json | python3 -c \
    'import json,sys; print(len(json.load(sys.stdin)["nics"]))')" = 16000 ]
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
ip netns exec "$ns" python3 - "$bin" "$work" "${RUNS:-200}" <<'PY'
import os, statistics, subprocess, sys, time
bin, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
xml = os.path.join(work, "g8.xml")
def run(args, stdin_path=None):
    with open(stdin_path or os.devnull, "rb") as f:
        t = time.perf_counter()
        r = subprocess.run(args, stdin=f, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=env)
        dt = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{args} exited {r.returncode} after {dt:.3f} s: {r.stderr.decode().strip()}")
    return dt
def bench(args, stdin_path=None, reset=None):
    ts = []
    for i in range(runs + 20):
        if reset:
            run(reset, stdin_path)
        dt = run(args, stdin_path)
        if i >= 20:
            ts.append(dt * 1e3)
    ts.sort()
    return f"median {statistics.median(ts):7.3f} ms, p90 {ts[int(len(ts) * 0.9)]:7.3f} ms"
print(f"/bin/true (spawn floor)                         {bench(['/bin/true'])}")
db = os.path.join(work, "small", "registry.db")
def reads(label):
    for cmd in (["bridge", "list"], ["show"]):
        for who, pre in (("root", []), ("uid 65534", nobody)):
            name = f"{' '.join(cmd)}, {who}, {label}"
            print(f"{name:<48}{bench(pre + [bin, '--db', db] + cmd)}")
reads("no writer")
holder = subprocess.Popen(["sqlite3", db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True)
holder.stdin.write("BEGIN EXCLUSIVE;\nUPDATE generation SET value = value + 1;\n"
                   "SELECT 'locked';\n")
holder.stdin.flush()
assert holder.stdout.readline().strip() == "locked"
reads("writer holds the lock")
holder.stdin.write("ROLLBACK;\n.quit\n")
holder.stdin.close()
holder.wait()
# The two registries in turn, run by run, so that the machine's drift hits both alike.
hook = lambda label, op, sub: [bin, "--db", os.path.join(work, label, "registry.db"),
                               "hook", "qemu", "g8", op, sub, "-"]
ts = {"small": [], "big": []}
for i in range(runs + 20):
    for label in ts:
        run(hook(label, "stopped", "end"), xml)
        dt = run(hook(label, "started", "begin"), xml)
        if i >= 20:
            ts[label].append(dt * 1e3)
for label, t in ts.items():
    t.sort()
    records = "no other record" if label == "small" else "16,000 other records"
    name = f"started, 8 NICs, {records}"
    print(f"{name:<48}median {statistics.median(t):7.3f} ms, p90 {t[int(len(t) * 0.9)]:7.3f} ms")
PY
