#pragma once

// A client of DPDK's telemetry socket (what usertools/dpdk-telemetry.py does), for tests.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace nicswitch::testenv {

// The telemetry socket of the DPDK process started with --file-prefix `prefix` (EAL's runtime
// directory: /var/run/dpdk/<prefix> for root, else $XDG_RUNTIME_DIR/dpdk/<prefix> or /tmp).
std::string TelemetrySocketPath(const std::string& prefix);

// Runs telemetry command `cmd` (e.g. "/softasic/stats") on `socket_path`; returns the JSON reply.
absl::StatusOr<std::string> QueryTelemetry(const std::string& socket_path, const std::string& cmd);

// Numeric field `name` of a reply's dict ("name":123); -1 when it is not there.
int64_t TelemetryField(const std::string& reply, const std::string& name);

}  // namespace nicswitch::testenv
