#!/usr/bin/env bash
# Runs one cargo-fuzz target for a number of seconds on the stable
# toolchain: fuzz/run.sh TARGET SECONDS [extra libFuzzer flags...]
# Targets: scenario, rules, engine_commands, apportion.
# SANITIZER=address (default none: the code under test forbids unsafe).
set -euo pipefail
target=${1:?usage: fuzz/run.sh TARGET SECONDS}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : $# ))
cd "$(dirname "$0")"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
mkdir -p "corpus/$target"
seeds=()
if [ -d "seeds/$target" ]; then
    seeds=("seeds/$target")
fi
# cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP lets stable take them.
RUSTC_BOOTSTRAP=1 cargo fuzz run -s "${SANITIZER:-none}" "$target" \
    "corpus/$target" "${seeds[@]}" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$@"
