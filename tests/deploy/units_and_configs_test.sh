#!/usr/bin/env bash
# Checks what the .debs install, without building them: stages the agent and relay install
# components (cmake --install into a temporary root), then
#   - the shipped configs pass the binaries' --check-config, and a broken one is refused with
#     the file, line and field;
#   - the installed units pass `systemd-analyze verify` (against the staged binaries) with no
#     message at all, for nicswitch-agent.service and an instance of nicswitch-relay@.service;
#   - each unit's ExecStartPre is --check-config of the very config its ExecStart uses.
#   units_and_configs_test.sh <build dir>
set -euo pipefail
BUILD_DIR=${1:?build dir}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/nsw-units-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

for component in agent relay; do
  DESTDIR=$T cmake --install "$BUILD_DIR" --component "$component" --prefix /usr > /dev/null
done
UNITS=$T/lib/systemd/system
for f in usr/bin/nicswitch-agent usr/bin/nicswitch-relay etc/nicswitch/agent.textproto \
         etc/nicswitch/relay/example.textproto lib/systemd/system/nicswitch-agent.service \
         lib/systemd/system/nicswitch-relay@.service; do
  [ -e "$T/$f" ] || fail "the install components have no /$f"
done

# The configs, by the staged binaries (the paths in the configs are the installed ones).
out=$("$T/usr/bin/nicswitch-agent" --config "$T/etc/nicswitch/agent.textproto" --check-config) \
  || fail "the default agent config is refused"
echo "$out"
out=$("$T/usr/bin/nicswitch-relay" --config "$T/etc/nicswitch/relay/example.textproto" --check-config) \
  || fail "the example relay config is refused"
echo "$out"
sed 's/gateway_mac: "02:00:00:00:00:01"/gateway_mac: "zz"/' "$T/etc/nicswitch/agent.textproto" > "$T/bad.textproto"
rc=0; out=$("$T/usr/bin/nicswitch-agent" --config "$T/bad.textproto" --check-config 2>&1) || rc=$?
[ "$rc" = 2 ] && grep -q 'bad.textproto:[0-9]*:[0-9]*: slow_path.gateway_mac' <<< "$out" \
  || fail "a bad agent config: exit $rc, '$out'"
echo "refused as expected: $out"
grep -v '^vf:' "$T/etc/nicswitch/relay/example.textproto" > "$T/bad-relay.textproto"
rc=0; out=$("$T/usr/bin/nicswitch-relay" --config "$T/bad-relay.textproto" --check-config 2>&1) || rc=$?
[ "$rc" = 2 ] || fail "a relay config without a VF: exit $rc, '$out'"
echo "refused as expected: $out"

# Each unit runs check-config on the config it then starts with.
for unit in nicswitch-agent.service "nicswitch-relay@.service vm7"; do
  set -- $unit
  plan=$(python3 "$ROOT/deploy/packaging/unit-commands.py" "$UNITS/$1" ${2:+"$2"})
  start=$(sed -n 's/^start //p' <<< "$plan")
  pre=$(sed -n 's/^pre //p' <<< "$plan")
  [ "$pre" = "$start --check-config" ] || fail "$1: ExecStartPre '$pre' is not '$start --check-config'"
done
grep -q "^start /usr/bin/nicswitch-relay --config /etc/nicswitch/relay/vm7.textproto$" <<< "$plan" \
  || fail "the relay template does not read /etc/nicswitch/relay/<instance>.textproto: $plan"

if ! command -v systemd-analyze > /dev/null; then
  echo "SKIP: systemd-analyze is not installed; the units were not verified"
  exit 77
fi
# verify resolves dependencies (sysinit.target, ...) inside --root: give it the host's units.
cp -an /lib/systemd/system/. "$UNITS/" 2> /dev/null || true
cp "$UNITS/nicswitch-relay@.service" "$UNITS/nicswitch-relay@example.service"
for unit in nicswitch-agent.service nicswitch-relay@example.service; do
  out=$(systemd-analyze verify --man=no --root="$T" "$UNITS/$unit" 2>&1) || fail "$unit: $out"
  [ -z "$out" ] || fail "systemd-analyze verify $unit: $out"
  echo "systemd-analyze verify $unit: clean"
done
echo PASS
