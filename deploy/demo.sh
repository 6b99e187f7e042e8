#!/usr/bin/env bash
# nicswitch demo: a complete simulated deployment on one machine.
#
#   host 1                                         host 2
#   guest vm1 (virtio-user)                        guest vm2 (virtio-user, answers)
#     | vhost-user                                   | vhost-user
#   nicswitch-relay (zero copy)                    nicswitch-relay (zero copy)
#     | VF 0 (memif)                                 | VF 0 (memif)
#   nicswitch-agent on softasic  ==== uplink (memif, VXLAN) ====  nicswitch-agent on softasic
#
# Installs what is needed, builds, starts both hosts, configures them with nicswitchctl
# (a VPC, a vNIC per host, mappings to each other, a security group), runs UDP traffic from vm1
# to vm2 and back, shows live what each agent does (flows, slow path vs fast path, rates), then
# changes the security group on host 2 to deny the traffic and shows it stop, and exits cleanly:
# no process, socket or DPDK runtime file is left behind.
#
#   DURATION   seconds of traffic before the security-group change (default 12)
#   PPS        packets per second vm1 sends (default 2000)
#   BUILD_DIR  build directory (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
DURATION=${DURATION:-12}
PPS=${PPS:-2000}

./deploy/install-deps.sh
./deploy/hugepages.sh 256 >/dev/null || true  # the demo itself runs without hugepages
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
echo "== building nicswitch-agent, nicswitch-relay, nicswitchctl, nicswitch-traffic"
cmake --build "$BUILD_DIR" --target nicswitch-agent nicswitch-relay nicswitchctl nicswitch-traffic \
  | tail -n 1

# shellcheck source=deploy/lib/simhosts.sh
source "$ROOT/deploy/lib/simhosts.sh"
on_exit() {
  local rc=$?
  sim_cleanup
  if [ $rc -ne 0 ]; then echo "demo failed (exit $rc); logs were in $RUN"; fi
  exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

echo "== starting host 1 and host 2 (nicswitch-agent on softasic, uplinks connected) and"
echo "   configuring them with nicswitchctl (VPC blue, a vNIC each, mappings, a security group)"
sim_up

echo "== guests and relays: vm2 answers every packet; vm1 sends $PPS UDP packets/s to vm2 and"
echo "   checks the answers; each guest's nicswitch-relay (zero copy) connects to its vhost-user socket"
TOTAL=$((PPS * (DURATION + 8)))
sim_start_answerer 2 $((DURATION + 20))
sim_start_relay 2
sim_start_sender 1 "$TOTAL" "$PPS"
sim_start_relay 1

# Live view: once a second, each agent's flows, fast path vs slow path, and vm1's rate.
show() {  # show <seconds> <phase>
  python3 - "$CTL" "$RUN" "$1" "$2" <<'PY'
import json, subprocess, sys, time
ctl, run, seconds, phase = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def status(h):
    out = subprocess.run([ctl, "-s", f"unix:{run}/h{h}-api.sock", "-o", "json", "status"],
                         capture_output=True, text=True, timeout=10)
    return json.loads(out.stdout) if out.returncode == 0 else {}
def n(d, *path):
    for p in path:
        d = d.get(p, {}) if isinstance(d, dict) else {}
    return int(d) if not isinstance(d, dict) else 0
last = {1: None, 2: None}
print(f"{'time':>5} {'host':>4} {'flows':>5} {'setups':>6} {'slow-path pkts':>14} "
      f"{'fast-path pkts':>14} {'fast-path pps':>13} {'drops':>6}  {phase}")
for t in range(seconds):
    time.sleep(1)
    for h in (1, 2):
        s = status(h)
        fast = n(s, "datapath", "fast_path_packets")
        rate = "" if last[h] is None else f"{fast - last[h]:>13}"
        last[h] = fast
        print(f"{t + 1:>4}s {h:>4} {n(s, 'flows'):>5} {n(s, 'datapath', 'flow_setups'):>6} "
              f"{n(s, 'datapath', 'exceptions'):>14} {fast:>14} {rate:>13} "
              f"{n(s, 'datapath', 'drops'):>6}", flush=True)
PY
}
show "$DURATION" "vm1 <-> vm2 over VXLAN"

echo "== host 2: security group change: vm2 no longer accepts nor sends UDP"
ctl 2 sg set vm-traffic --rule ingress,icmp,any,any,allow --rule egress,udp,any,any,deny
show 4 "after the change: host 2 removed the flow; vm1's packets are dropped there"

sim_wait_guest 1
echo "== results"
echo "vm1 (sender):"; tail -n 1 "$RUN/guest1.log"
for h in 1 2; do echo "host $h:"; ctl $h status | grep -E "flow_setups|slow_path|fast_path|drops_|applied"; done
echo "host 1 flows:"; ctl 1 flows list
python3 - "$RUN/guest1.log" <<'PY'
import json, sys
summary = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"vm1 sent {summary['sent']} packets and got {summary['valid']} intact answers from vm2 "
      f"({summary['corrupt']} corrupt) before the security group closed")
if summary["valid"] < 1000 or summary["corrupt"] != 0:
    sys.exit("expected thousands of intact answers")
PY
echo "== done: stopping everything"
