#!/usr/bin/env bash
# Ping (ICMP echo) VM to VM across two hosts through VXLAN: the first echo request goes through
# each agent's slow path, which installs the flow and its reverse rule (ICMP flows are matched by
# protocol, so the echo replies take the reverse rule); every later request and reply takes the
# fast path. vm1 checks every reply: type 0, its identifier and sequence number, data intact.
source "$(dirname "$0")/common.sh"
sim_up
sim_start_answerer 2 60
sim_start_relay 2
sim_start_sender 1 3000 500 --proto icmp --sizes 98,1000 --expect 2990
sim_start_relay 1
# While the ping runs: both directions of the pair are ICMP rules in the device, each counting
# the packets it carried.
icmp_flows() {  # icmp_flows <host>: "<egress packets> <ingress packets>" of its ICMP flows
  ctl "$1" -o json flows list | python3 -c '
import json, sys
d = json.load(sys.stdin)
pk = {"egress": 0, "ingress": 0}
for f in d.get("flows", []):
    if int(f.get("protocol", 0)) == 1 and not f.get("software", False):
        pk[f["direction"]] += int(f.get("packets", 0))
print(pk["egress"], pk["ingress"])'
}
for h in 1 2; do
  for _ in $(seq 20); do  # counters are polled from the device in batches
    read -r egress ingress <<< "$(icmp_flows $h)"
    [ "$egress" -ge 200 ] && [ "$ingress" -ge 200 ] && break
    sleep 0.5
  done
  expect "host $h: an ICMP rule pair in the device carried requests and replies" \
    "$egress -ge 200 && $ingress -ge 200"
done
sim_wait_guest 1
field() { sim_guest_result 1 "$1"; }
expect "vm1 sent echo requests" "$(field proto) == icmp && $(field sent) -eq 3000"
expect "vm1 got (nearly) every echo reply, matching and intact" \
  "$(field valid) -ge 2990 && $(field corrupt) -eq 0 && $(field duplicates) -eq 0"
expect "loss and round-trip times are reported" \
  "$(field lost) -le 10 && $(python3 -c "print(int($(field rtt_us_p50) > 0))") -eq 1"
echo "vm1: lost $(field lost), rtt p50 $(field rtt_us_p50) us, p99 $(field rtt_us_p99) us"
for h in 1 2; do
  expect_one_flow_setup $h
  fast=$(ctl_status_field $h datapath.fast_path_packets)
  expect "host $h: requests and replies took the fast path" "$fast -ge 5970"
done
