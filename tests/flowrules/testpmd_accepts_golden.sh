#!/bin/sh
# Pastes every golden file (tests/testdata/flowrules/*.testpmd) into DPDK's own testpmd, on
# net_null ports that have no rte_flow support: testpmd must parse every `set vxlan-tos-ttl` and
# `flow create` command (for each flow command the PMD then answers "Function not implemented"),
# and must refuse one deliberately wrong command ("Bad arguments"), which shows that this check
# can fail. Both lcores run on CPU 0 (the forwarding one stays idle, nothing is started).
# Exit 77 (skipped) when dpdk-testpmd is not installed.
set -eu
dir=$1
testpmd=$(command -v dpdk-testpmd || true)
if [ -z "$testpmd" ]; then
  echo "dpdk-testpmd is not installed (Debian package dpdk); skipping"
  exit 77
fi
prefix="flowrules-testpmd-$$"
cmds=$(mktemp)
out=$(mktemp)
# EAL's runtime directory for this file prefix (root: /var/run/dpdk, otherwise XDG or /tmp).
trap 'rm -f "$cmds" "$out"; rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix"' EXIT
expected=0
for f in "$dir"/*.testpmd; do
  cat "$f" >> "$cmds"
  expected=$((expected + $(grep -c '^flow create' "$f")))
done
echo "flow create 0 transfer pattern eth / ipv4 bogus is 3 / end actions drop / end" >> "$cmds"
echo "quit" >> "$cmds"
if ! timeout 60 "$testpmd" --lcores=0@0,1@0 --no-huge -m 128 --no-pci --no-telemetry \
    --file-prefix="$prefix" --log-level=lib.eal:error \
    --vdev=net_null0 --vdev=net_null1 --vdev=net_null2 --vdev=net_null3 \
    -- -i --total-num-mbufs=2048 < "$cmds" > "$out" 2>&1; then
  cat "$out"
  echo "FAIL: dpdk-testpmd did not run to completion"
  exit 1
fi
parsed=$(grep -c 'Function not implemented' "$out" || true)
bad=$(grep -c 'Bad arguments' "$out" || true)
if [ "$parsed" -ne "$expected" ] || [ "$bad" -ne 1 ]; then
  cat "$out"
  echo "FAIL: testpmd parsed $parsed of $expected golden flow commands and printed" \
       "\"Bad arguments\" $bad times (expected once, for the deliberately wrong command)"
  exit 1
fi
echo "OK: testpmd parsed all $expected golden flow commands"
