#!/usr/bin/env bash
# Whole-process timing of `vifkit cfg2xml` on the 500-vif bench config (the issue's
# target: median under 1.5 ms), with `vifkit --version` as the process-startup floor.
#
#   packaging/bench.sh          build, generate the config, time with hyperfine
#   packaging/bench.sh --all    also run the in-process criterion suite first
#
# Honours CARGO_TARGET_DIR. The config is the one the criterion bench measures
# (translator/benches/data), written by the bench binary itself to
# $CARGO_TARGET_DIR/bench-500.cfg, with the expected output next to it (.xml), which
# the binary's output is checked against before timing. BENCH_STRICT=1: exit 1 when
# the target is missed. Needs hyperfine and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

all=0
case "${1:-}" in
  --all) all=1 ;;
  "") ;;
  *) echo "usage: $0 [--all]" >&2; exit 2 ;;
esac
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt install hyperfine)" >&2; exit 1; }

target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
bin="$target/release/vifkit"
cfg="$target/bench-500.cfg"
json="$target/bench-hyperfine.json"
target_ms=1.5

echo "== packaging/build-release.sh" >&2
bash packaging/build-release.sh

# The bench binary runs with the package as its working directory: absolute paths.
echo "== generating $cfg" >&2
VIFKIT_BENCH_WRITE_CFG="$cfg" cargo bench -p vifkit-translator --bench translate
if ((all)); then
  echo "== criterion (in-process)" >&2
  cargo bench -p vifkit-translator --bench translate
fi

# The timed command must do the real work: same output, no warnings.
err=$("$bin" cfg2xml "$cfg" 2>&1 >"$target/bench-500.out")
[ -z "$err" ] || { echo "vifkit cfg2xml warned or failed:" >&2; echo "$err" >&2; exit 1; }
cmp -s "$target/bench-500.out" "${cfg%.cfg}.xml" \
  || { echo "vifkit cfg2xml output differs from the bench's in-process output" >&2; exit 1; }
echo "== $(grep -c '^    '\' "$cfg") vifs, $(wc -c <"$target/bench-500.out") bytes of XML" >&2

hyperfine --warmup 20 --runs 300 -N --export-json "$json" \
  "$bin cfg2xml $cfg" "$bin --version"

python3 - "$json" "$target_ms" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))["results"]
target = float(sys.argv[2])
cfg, ver = runs[0], runs[1]
print()
print(f"{'command':<24} {'median':>10} {'mean':>10} {'min':>10}")
for name, r in (("vifkit cfg2xml (500)", cfg), ("vifkit --version", ver)):
    print(f"{name:<24} {r['median']*1e3:>8.3f}ms {r['mean']*1e3:>8.3f}ms {r['min']*1e3:>8.3f}ms")
work = (cfg["median"] - ver["median"]) * 1e6
print(f"cfg2xml above the startup floor: {work:.0f} us ({work * 1e3 / 500:.0f} ns per vif)")
ok = cfg["median"] * 1e3 < target
print(f"target: median < {target} ms: {'MET' if ok else 'MISSED'}")
open(sys.argv[1] + ".verdict", "w").write("met\n" if ok else "missed\n")
PY
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$(cat "$json.verdict")" != met ]; then
  exit 1
fi
