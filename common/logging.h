#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace nicswitch {

// Configures spdlog's default logger for a daemon: "<time> <level> <name>: message" on stderr.
// `level` is one of trace, debug, info, warn, error, critical, off.
// Returns INVALID_ARGUMENT naming the level when it is not one of those.
absl::Status SetUpLogging(absl::string_view program_name, absl::string_view level);

}  // namespace nicswitch
