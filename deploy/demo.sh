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

AGENT=$ROOT/$BUILD_DIR/soc_agent/agent/nicswitch-agent
RELAY=$ROOT/$BUILD_DIR/host_relay/nicswitch-relay
CTL=$ROOT/$BUILD_DIR/soc_agent/ctl/nicswitchctl
TRAFFIC=$ROOT/$BUILD_DIR/tests/host_relay/nicswitch-traffic

RUN=$(mktemp -d /tmp/nicswitch-demo.XXXXXX)
TAG=nsw-demo-$$
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$RUN" /var/run/dpdk/"$TAG"-* 2>/dev/null || true
  rm -f /dev/hugepages/"$TAG"-* 2>/dev/null || true
  if [ $rc -ne 0 ]; then echo "demo failed (exit $rc)"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for <what> <seconds> <command...>
  local what=$1 limit=$2; shift 2
  for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for $what"; return 1
}

ctl() { local h=$1; shift; "$CTL" -s "unix:$RUN/h$h-api.sock" "$@"; }

for h in 1 2; do
  other=$((3 - h))
  role=$([ $h = 1 ] && echo server || echo client)
  cat > "$RUN/agent$h.textproto" <<EOF
eal { args: ["-l", "0-1", "--no-pci", "--no-huge", "-m", "512", "--file-prefix", "$TAG-agent$h",
             "--log-level", "lib.eal:warning"] }
logging { level: "warn" }
datapath: SOFT
softasic {
  uplink: "net_memif0,role=$role,socket=$RUN/uplink.sock,id=0"
  vfs: "net_memif1,role=server,socket=$RUN/h$h-vf0.sock,id=0"
  datapath_lcores: 1
  idle_sleep_max_us: 200
}
underlay {
  vtep_ip: "192.168.0.$h"
  uplink_mac: "02:aa:00:00:00:0$h"
  next_hop_mac: "02:aa:00:00:00:0$other"
}
api { unix_socket: "$RUN/h$h-api.sock" store_path: "$RUN/h$h-policy.db" }
slow_path { gateway_mac: "02:00:00:00:00:fe" flow_age_seconds: 10 }
EOF
  cat > "$RUN/policy$h.textproto" <<EOF
security_groups {
  name: "vm-traffic"
  rules { direction: INGRESS protocol: UDP port_min: 1000 port_max: 5000 action: ALLOW }
  rules { direction: INGRESS protocol: ICMP action: ALLOW }
}
vpcs { name: "blue" vni: 100 cidrs: "10.0.0.0/24" }
vnics {
  name: "vm$h" vpc: "blue" vf_index: 0 mac: "02:00:00:00:00:0$h" ipv4: "10.0.0.$h"
  security_groups: "vm-traffic"
}
mappings {
  name: "vm$other" vpc: "blue" overlay_ip: "10.0.0.$other"
  remote_vtep_ip: "192.168.0.$other" remote_mac: "02:00:00:00:00:0$other"
}
EOF
done

echo "== starting host 1 and host 2 (nicswitch-agent on softasic, uplinks connected)"
# Host 1 serves the uplink memif, host 2 connects to it: start them in that order.
for h in 1 2; do
  "$AGENT" --config "$RUN/agent$h.textproto" > "$RUN/agent$h.log" 2>&1 &
  PIDS+=($!)
  wait_for "agent $h's API" 30 test -S "$RUN/h$h-api.sock"
done

echo "== configuring both agents with nicswitchctl (VPC blue, vNIC, mapping, security group)"
for h in 1 2; do ctl $h apply -f "$RUN/policy$h.textproto"; done

echo "== starting nicswitch-relay for vm1 and vm2 (vhost-user, zero copy onto the VF)"
for h in 1 2; do
  "$RELAY" --socket "$RUN/h$h-vm.sock" --vf "net_memif0,role=client,socket=$RUN/h$h-vf0.sock,id=0" \
    --stats-interval-s 0 --log-level warn -- \
    -l 0 --no-pci --no-huge -m 256 --file-prefix "$TAG-relay$h" --log-level lib.eal:warning \
    > "$RUN/relay$h.log" 2>&1 &
  PIDS+=($!)
  wait_for "relay $h's vhost-user socket" 30 test -S "$RUN/h$h-vm.sock"
done

echo "== guests: vm2 answers every packet; vm1 sends $PPS UDP packets/s to vm2 and checks the answers"
guest_eal() { echo "-l 1 --no-pci --no-huge -m 256 --file-prefix $TAG-guest$1 --log-level lib.eal:warning --vdev net_virtio_user0,path=$RUN/h$1-vm.sock"; }
TOTAL=$((PPS * (DURATION + 8)))
# shellcheck disable=SC2046
"$TRAFFIC" --echo --reply --timeout-s $((DURATION + 14)) \
  -- $(guest_eal 2) > "$RUN/guest2.log" 2>&1 &
PIDS+=($!)
sleep 1
# shellcheck disable=SC2046
"$TRAFFIC" --send "$TOTAL" --pps "$PPS" --first-gap-ms 100 --timeout-s $((DURATION + 12)) --linger-s 1 \
  -- $(guest_eal 1) > "$RUN/guest1.log" 2>&1 &
GUEST1=$!
PIDS+=($GUEST1)

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

echo "== host 2: security group change: vm2 no longer accepts UDP 1000-5000"
ctl 2 sg set vm-traffic --rule ingress,icmp,any,any,allow
show 4 "after the change: host 2 removed the flow; vm1's packets are dropped there"

wait "$GUEST1" || true
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
