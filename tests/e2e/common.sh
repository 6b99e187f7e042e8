# Shared by the end-to-end tests: the simulated hosts, assertions, cleanup on any exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BUILD_DIR:?BUILD_DIR must name the build directory}"
# shellcheck source=deploy/lib/simhosts.sh
source "$ROOT/deploy/lib/simhosts.sh"
on_exit() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "---- FAILED (exit $rc); last lines of every log:"
    for f in "$RUN"/*.log; do echo "== $f"; tail -n 15 "$f"; done
  fi
  sim_cleanup
  exit $rc
}
trap on_exit EXIT

expect() {  # expect <description> <condition expression for [[ ]]>
  local what=$1
  shift
  if eval "[[ $* ]]"; then
    echo "ok [$(date +%T)]: $what ($*)"
  else
    echo "FAIL [$(date +%T)]: $what ($*)"
    exit 1
  fi
}

# expect_one_flow_setup <host>: the flow was set up once, by its first packet. Packets of the
# flow that reached the agent before its rules were in the device (a loaded host can take longer
# than the sender's first gap) were forwarded by the agent as packets of the installed flow, not
# set up again and not lost; there are few of them (the sender pauses after its first packet).
expect_one_flow_setup() {
  local h=$1 setups exceptions first software
  setups=$(ctl_status_field "$h" datapath.flow_setups)
  exceptions=$(ctl_status_field "$h" datapath.exceptions)
  first=$(ctl_status_field "$h" datapath.first_packets)
  software=$(ctl_status_field "$h" datapath.software_packets)
  expect "host $h: one flow set up by its first packet; $((exceptions - 1)) later slow-path packets forwarded" \
    "$setups -eq 1 && $first -eq 1 && $exceptions -eq $((1 + software)) && $exceptions -le 50"
}
