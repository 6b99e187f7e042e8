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
