# Simulated SmartNIC hosts on one machine, for the demo and the end-to-end tests (source it).
#
# Host h (1 or 2): nicswitch-agent on softasic (uplink memif: host 1 serves, host 2 connects;
# VF 0 memif served by the agent), a guest (nicswitch-traffic on net_virtio_user, which owns the
# vhost-user socket like a VMM does) and nicswitch-relay in client mode, so either the relay or
# the agent can restart under a running guest. vNIC vm<h>: 02:00:00:00:00:0<h>, 10.0.0.<h>,
# VPC blue (VNI 100), VTEP 192.168.0.<h>; each host maps the other's VM.
#
# Needs: ROOT (the checkout), BUILD_DIR. Sets RUN (a fresh directory) and TAG.
#
# Processes can be slow to go, so every stop below waits for the process itself to be gone
# (sim_reap) before anything replaces it. Measured on this project's VM (Firecracker, kernel
# 6.18) on 2026-12-06: e2e_relay_restart took 4-140 s longer than its usual 16 s in about 1 run
# of 5, all of it inside the kernel while bash reaped an exited child (wait4 -> release_task ->
# proc_invalidate_siblings_dcache -> shrink_dcache_parent, spinning on a CPU, not blocked: the
# /proc/<pid> dentries of the dead process). Not the relay, the guest, vhost-user or memif;
# why the kernel spins is not known. The restart tests' answering guests live 560 s (cleanup
# stops them) and e2e tests may take 600 s, so a slow reap costs time, not the test.
# Every started process is recorded; sim_cleanup stops them all and removes every file.

: "${BUILD_DIR:=build}"
case "$BUILD_DIR" in /*) BIN=$BUILD_DIR ;; *) BIN=$ROOT/$BUILD_DIR ;; esac
AGENT=$BIN/soc_agent/agent/nicswitch-agent
RELAY=$BIN/host_relay/nicswitch-relay
CTL=$BIN/soc_agent/ctl/nicswitchctl
TRAFFIC=$BIN/tests/host_relay/nicswitch-traffic
RUN=$(mktemp -d /tmp/nicswitch-sim.XXXXXX)
TAG=nsw-sim-$$
declare -A SIM_PID=()

# sim_running <pid>: the process exists and has not exited (a zombie has).
sim_running() {
  [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# sim_reap <pid> [seconds]: waits until child <pid> exited (SIGKILL after `seconds`, default
# unbounded) and returns its exit code. The process is watched through /proc, then reaped (the
# reap itself can take long on this VM's kernel: see the top of this file).
sim_reap() {
  local pid=$1 limit=${2:-0} rc=0 tenths=0
  while sim_running "$pid"; do
    if [ "$limit" -gt 0 ] && [ $tenths -ge $((limit * 10)) ]; then
      echo "pid $pid still running after ${limit} s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      limit=0
    fi
    sleep 0.1
    tenths=$((tenths + 1))
    if [ $tenths -eq 50 ]; then  # slow to go: say where it is (kernel stacks of its threads)
      echo "pid $pid still there after 5 s: $(grep State "/proc/$pid/status" 2>/dev/null)" >&2
      for t in /proc/"$pid"/task/*; do
        echo "  $(cat "$t/comm" 2>/dev/null) $(grep State "$t/status" 2>/dev/null):" \
          "$(tr '\n' ' ' < "$t/stack" 2>/dev/null | cut -c1-300)" >&2
      done
    fi
  done
  wait "$pid" 2>/dev/null || rc=$?
  return $rc
}

sim_cleanup() {
  local name pid
  # Guests first, then relays, then agents: each goes before what it is connected to.
  for name in guest1 guest2 relay1 relay2 agent2 agent1; do
    pid=${SIM_PID[$name]:-}
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    sim_reap "$pid" 10 || true
  done
  SIM_PID=()
  rm -rf "$RUN" /var/run/dpdk/"$TAG"-* 2>/dev/null || true
}

sim_wait_for() {  # sim_wait_for <what> <seconds> <command...>
  local what=$1 limit=$2
  shift 2
  for _ in $(seq $((limit * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for $what" >&2
  return 1
}

ctl() { local h=$1; shift; "$CTL" -s "unix:$RUN/h$h-api.sock" "$@"; }

# ctl_status_field <host> <dotted path in GetStatus JSON>, e.g. datapath.flow_setups
ctl_status_field() {
  ctl "$1" -o json status | python3 -c '
import json, sys
d = json.load(sys.stdin)
for p in sys.argv[1].split("."):
    d = d.get(p, 0) if isinstance(d, dict) else 0
print(int(d) if not isinstance(d, dict) else 0)' "$2"
}

sim_write_configs() {
  local h other role
  for h in 1 2; do
    other=$((3 - h))
    role=$([ "$h" = 1 ] && echo server || echo client)
    cat > "$RUN/agent$h.textproto" <<EOF
eal { args: ["-l", "0-1", "--no-pci", "--no-huge", "-m", "512", "--file-prefix", "$TAG-agent$h",
             "--log-level", "lib.eal:warning"] }
logging { level: "info" }
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
}

sim_start_agent() {  # sim_start_agent <host>
  local h=$1
  rm -f "$RUN/h$h-api.sock"
  "$AGENT" --config "$RUN/agent$h.textproto" >> "$RUN/agent$h.log" 2>&1 &
  SIM_PID[agent$h]=$!
  sim_wait_for "agent $h's API" 30 test -S "$RUN/h$h-api.sock"
}

sim_stop() {  # sim_stop <name> [signal]: TERM (or signal), SIGKILL after 10 s; its exit code
  local name=$1 pid=${SIM_PID[$1]:-} rc=0
  [ -n "$pid" ] || return 0
  kill -"${2:-TERM}" "$pid" 2>/dev/null || true
  sim_reap "$pid" 10 || rc=$?
  unset "SIM_PID[$name]"
  return $rc
}

sim_start_relay() {  # sim_start_relay <host>: connects to the guest's vhost-user socket
  local h=$1
  sim_wait_for "guest $h's vhost-user socket" 30 test -S "$RUN/h$h-vm.sock"
  "$RELAY" --client --socket "$RUN/h$h-vm.sock" \
    --vf "net_memif0,role=client,socket=$RUN/h$h-vf0.sock,id=0" \
    --stats-interval-s 5 --log-level info -- \
    -l 0 --no-pci --no-huge -m 256 --file-prefix "$TAG-relay$h" --log-level lib.eal:warning \
    >> "$RUN/relay$h.log" 2>&1 &
  SIM_PID[relay$h]=$!
}

sim_guest_eal() {
  echo "-l 1 --no-pci --no-huge -m 256 --file-prefix $TAG-guest$1 --log-level lib.eal:warning" \
    "--vdev net_virtio_user0,path=$RUN/h$1-vm.sock,server=1"
}

# sim_start_answerer <host> <seconds>: the guest answers every packet it gets (a peer VM).
sim_start_answerer() {
  # shellcheck disable=SC2046
  "$TRAFFIC" --echo --reply --timeout-s "$2" --wait-link-s 30 -- $(sim_guest_eal "$1") \
    > "$RUN/guest$1.log" 2>&1 &
  SIM_PID[guest$1]=$!
}

# sim_start_sender <host> <packets> <pps> [traffic options...]: the guest sends UDP (or what the
# options say, e.g. --proto icmp) to the other VM and checks the answers; its JSON summary is
# the last line of $RUN/guest<host>.log.
sim_start_sender() {
  local h=$1 n=$2 pps=$3
  shift 3
  local other=$((3 - h))
  # shellcheck disable=SC2046
  "$TRAFFIC" --send "$n" --pps "$pps" --first-gap-ms 100 --timeout-s $((n / pps + 10)) --linger-s 1 \
    --wait-link-s 30 --src-mac "02:00:00:00:00:0$h" --dst-mac "02:00:00:00:00:0$other" \
    --src-ip "10.0.0.$h" --dst-ip "10.0.0.$other" "$@" -- $(sim_guest_eal "$h") \
    > "$RUN/guest$h.log" 2>&1 &
  SIM_PID[guest$h]=$!
}

# sim_guest_result <host> <field>: a field of the guest's JSON summary (after it exited).
sim_guest_result() {
  tail -n 1 "$RUN/guest$1.log" | python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

sim_wait_guest() {  # sim_wait_guest <host>
  local pid=${SIM_PID[guest$1]:-}
  [ -n "$pid" ] || return 0
  sim_reap "$pid" || true
  unset "SIM_PID[guest$1]"
}

# Both agents up and configured (the guests and relays are started by the caller).
sim_up() {
  sim_write_configs
  sim_start_agent 1  # serves the uplink memif: first
  sim_start_agent 2
  ctl 1 apply -f "$RUN/policy1.textproto"
  ctl 2 apply -f "$RUN/policy2.textproto"
}
