#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace nicswitch {

// Initialises DPDK's EAL from a list of arguments (without argv[0]; one is prepended).
// EAL keeps pointers into argv, so the strings are copied into storage that lives for the rest
// of the process. May be called once per process; a second call returns FAILED_PRECONDITION.
// On failure returns an error carrying rte_errno's text and the arguments that were given.
absl::Status InitEal(const std::string& program_name, const std::vector<std::string>& args);

// Releases EAL resources (hugepage files, sockets). Safe to call when InitEal failed or was
// never called.
void CleanupEal();

}  // namespace nicswitch
