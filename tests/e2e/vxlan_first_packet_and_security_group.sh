#!/usr/bin/env bash
# VM to VM across two hosts through VXLAN: the first packet of the flow goes through each
# agent's slow path, every later one through the device; a security-group change on host 2
# removes the flow there and the next packets are dropped.
source "$(dirname "$0")/common.sh"
sim_up
sim_start_answerer 2 40
sim_start_relay 2
sim_start_sender 1 3000 1000
sim_start_relay 1
sim_wait_guest 1
valid=$(sim_guest_result 1 valid)
corrupt=$(sim_guest_result 1 corrupt)
expect "vm1 got (nearly) every answer, intact" "$valid -ge 2990 && $corrupt -eq 0"
for h in 1 2; do
  expect_one_flow_setup $h
  fast=$(ctl_status_field $h datapath.fast_path_packets)
  expect "host $h: the rest took the fast path (both directions)" "$fast -ge 5900"
done

ctl 2 sg set vm-traffic --rule ingress,icmp,any,any,allow --rule egress,udp,any,any,deny
sim_wait_for "host 2 to apply the change" 10 \
  bash -c "[ \"\$(\"$CTL\" -s unix:$RUN/h2-api.sock -o json status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[\"applied_revision\"]==d[\"desired_revision\"] and int(d[\"flows\"])==0)')\" = True ]"
expect "host 2 removed the flow's rules" "$(ctl_status_field 2 flows) -eq 0"
sim_start_sender 1 500 500
sim_wait_guest 1
expect "no answer crosses the closed security group" "$(sim_guest_result 1 valid) -eq 0"
denied=$(ctl 2 -o json status | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["datapath"]["drops_by_reason"].get("ingress_denied", 0)))')
expect "host 2 counted the denied packets" "$denied -ge 490"
