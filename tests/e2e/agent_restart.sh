#!/usr/bin/env bash
# An agent restarted under running guests restores its policy from the store, and traffic
# resumes once its flows are learned again.
source "$(dirname "$0")/common.sh"
sim_up
revision=$(ctl_status_field 2 desired_revision)
sim_start_answerer 2 560  # an upper bound; cleanup stops it (see simhosts.sh on slow exits)
sim_start_relay 2
sim_start_sender 1 1000 500
sim_start_relay 1
sim_wait_guest 1
expect "traffic flows before the restart" "$(sim_guest_result 1 valid) -ge 990"

sim_stop agent2 && rc=0 || rc=$?
expect "agent 2 stopped cleanly on SIGTERM" "$rc -eq 0"
sim_start_agent 2
expect "agent 2 restored the policy revision" "$(ctl_status_field 2 desired_revision) -eq $revision"
expect "agent 2 restored the vNIC" "$(ctl_status_field 2 entities.vnics) -eq 1"
expect "and applied it" "$(ctl_status_field 2 applied_revision) -eq $revision"

sim_start_sender 1 2000 500
sim_wait_guest 1
expect "traffic resumed after the restart" "$(sim_guest_result 1 valid) -ge 1500"
