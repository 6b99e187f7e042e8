#!/usr/bin/env bash
# A relay that dies under a running guest (SIGKILL: a crash, nothing cleaned up) and is started
# again in client mode picks up the guest's rings, and traffic resumes.
source "$(dirname "$0")/common.sh"
sim_up
sim_start_answerer 2 560  # an upper bound; cleanup stops it (see simhosts.sh on slow exits)
sim_start_relay 2
sim_start_sender 1 1000 500
sim_start_relay 1
sim_wait_guest 1
expect "traffic flows before the restart" "$(sim_guest_result 1 valid) -ge 990"

# The restarted relay must have taken over the guest's rings before the second sender starts
# (else the first packets are lost at host 2 while it starts, and a loaded host loses hundreds).
active_before=$(grep -c "queue pair 0 active" "$RUN/relay2.log" || true)
sim_stop relay2 KILL || true
sim_start_relay 2
sim_wait_for "the restarted relay 2 to serve the guest's rings" 60 \
  bash -c "[ \$(grep -c 'queue pair 0 active' '$RUN/relay2.log') -gt $active_before ]"
sim_start_sender 1 2000 500
sim_wait_guest 1
expect "traffic resumed after the relay restart" "$(sim_guest_result 1 valid) -ge 1500"
