#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds, starting from its committed seeds.
#
#   bash fuzz/smoke.sh SECONDS [TARGET...]
#
# For each target, fuzz/seeds/TARGET is copied into a fresh scratch corpus
# fuzz/corpus/TARGET (git-ignored) and
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/corpus/TARGET -- -max_total_time=SECONDS
# runs; its output goes to fuzz/corpus/TARGET.log. Prints the executions libFuzzer
# reports per target; exits 1 if any target fails (crash, assertion, build error).
# Crashing inputs land in fuzz/artifacts/TARGET/.
set -euo pipefail

usage() {
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
}
[[ $# -ge 1 && $1 =~ ^[1-9][0-9]*$ ]] || usage
seconds=$1
shift

fuzz_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$fuzz_dir"

all_targets=(vif xl_cfg xml rate xl_differential)
targets=("${@:-${all_targets[@]}}")
for t in "${targets[@]}"; do
    [[ -f fuzz_targets/$t.rs ]] || { echo "unknown target: $t" >&2; usage; }
done

# cargo-fuzz and a C++ compiler (libfuzzer-sys builds libFuzzer).
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== cargo fuzz not found: cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked
fi
if ! command -v c++ >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        echo "== no C++ compiler: apt-get install g++"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++
    else
        echo "a C++ compiler (c++) is needed to build libFuzzer" >&2
        exit 1
    fi
fi

# Start from the main workspace's lock file so the translator is fuzzed with the
# dependency versions it is tested with (fuzz/Cargo.lock is git-ignored).
if [[ ! -f Cargo.lock && -f ../Cargo.lock ]]; then
    cp ../Cargo.lock Cargo.lock
fi

# The machine may only have a stable toolchain; cargo-fuzz needs -Z flags.
export RUSTC_BOOTSTRAP=1

mkdir -p corpus
failed=()
declare -A execs
for t in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$t"
    log="$fuzz_dir/corpus/$t.log"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    if [[ -d seeds/$t ]]; then
        cp seeds/"$t"/* "$corpus"/
    fi
    echo "== $t: ${seconds}s from $(find "$corpus" -type f | wc -l) seed(s), log $log"
    status=0
    cargo fuzz run "$t" "$corpus" -- -max_total_time="$seconds" >"$log" 2>&1 || status=$?
    # libFuzzer's last words: "Done N runs in S second(s)", or "#N DONE ...".
    n=$(sed -n 's/^Done \([0-9][0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    if [[ -z $n ]]; then
        n=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)
    fi
    execs[$t]=${n:-?}
    if [[ $status -ne 0 ]]; then
        failed+=("$t")
        echo "!! $t FAILED (exit $status); end of its log:"
        tail -n 40 "$log" | sed 's/^/   /'
    else
        echo "   $t: ${execs[$t]} executions"
    fi
done

echo
echo "== executions in ${seconds}s per target"
for t in "${targets[@]}"; do
    printf '%-8s %s\n' "$t" "${execs[$t]}"
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "FAILED: ${failed[*]} (inputs in $fuzz_dir/artifacts/)" >&2
    exit 1
fi
echo "all targets passed"
