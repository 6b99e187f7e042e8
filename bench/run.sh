#!/usr/bin/env bash
# Runs every nicswitch benchmark and prints one table (and bench/results/summary.json) with
# each figure next to the baseline measured in the same run. Needs a build (BUILD_DIR, default
# build) and both cores for about 15 minutes; run it on an otherwise idle machine.
#   QUICK=1  shorter runs (smoke check, figures not for the README)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
case "$BUILD_DIR" in /*) BIN=$BUILD_DIR ;; *) BIN=$ROOT/$BUILD_DIR ;; esac
OUT=$ROOT/bench/results
mkdir -p "$OUT"
./deploy/hugepages.sh 1024 >/dev/null || true

cmake --build "$BIN" --target softasic_bench softasic_fwd flow_setup_bench api_bench nicswitch-relay \
  nicswitch-traffic | tail -n 1

quick=${QUICK:-0}
echo "== softasic: Mpps and cycles/packet vs io-forwarding, bytes/rule, insertion rate"
if [ "$quick" = 1 ]; then
  "$BIN/bench/softasic/softasic_bench" --quick --json "$OUT/softasic.json"
else
  "$BIN/bench/softasic/softasic_bench" --json "$OUT/softasic.json"
fi
echo "== softasic as a forwarding process vs testpmd io-forwarding (memif across cores)"
python3 bench/softasic/fwd_bench.py --fwd "$BIN/bench/softasic/softasic_fwd" \
  --json "$OUT/softasic_fwd.json" $([ "$quick" = 1 ] && echo "--runs 1 --seconds 0.5 --rules 1000")
echo "== flow_setup: flow setups/s through the slow path, first-packet latency"
"$BIN/bench/flow_setup/flow_setup_bench" --flows $([ "$quick" = 1 ] && echo 20000 || echo 100000) \
  --runs 3 --json "$OUT/flow_setup.json" 2>&1 | grep -v "already stopped"
echo "== api: single-update write latency and batched throughput, durable"
api_dir=$(mktemp -d "$ROOT/bench/results/api.XXXXXX")
"$BIN/bench/api/api_bench" --dir "$api_dir" --json "$OUT/api.json" \
  $([ "$quick" = 1 ] && echo "--single 200 --batches 5")
rm -rf "$api_dir"
echo "== relay: zero copy vs copy vs testpmd io-forwarding"
python3 bench/relay/relay_bench.py --relay "$BIN/host_relay/nicswitch-relay" \
  --traffic "$BIN/tests/host_relay/nicswitch-traffic" --json "$OUT/relay.json" --runs 5 \
  $([ "$quick" = 1 ] && echo "--runs 1 --duration 0.5")
echo "== relay, reference: a VF stand-in that memcpy()s VF->guest frames on the polling core"
python3 bench/relay/relay_bench.py --relay "$BIN/host_relay/nicswitch-relay" \
  --traffic "$BIN/tests/host_relay/nicswitch-traffic" --json "$OUT/relay_cpucopy.json" \
  --vf-stand-in cpu-copy --directions vf_to_guest --sizes 64,1518 \
  $([ "$quick" = 1 ] && echo "--runs 1 --duration 0.5")

python3 bench/summarize.py "$OUT" | tee "$OUT/summary.txt"
