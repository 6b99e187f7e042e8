#pragma once

#include <string>
#include <vector>

namespace nicswitch::testenv {

// A DPDK --file-prefix unique to this test process ("<stem>-<pid>"), so concurrent test
// processes never share hugepage files or the EAL runtime directory.
std::string UniqueFilePrefix(const std::string& stem);

// EAL arguments for a test process: no PCI scan, no hugepages (--no-huge -m <mb>), one lcore
// list, a unique file prefix, telemetry off, plus `extra` (e.g. --vdev=...).
std::vector<std::string> TestEalArgs(const std::string& stem, const std::vector<std::string>& extra,
                                     int memory_mb = 256, const std::string& lcores = "0");

// Path of a directory under the build tree's Testing/ (or /tmp) unique to this process.
std::string TestTempDir(const std::string& stem);

}  // namespace nicswitch::testenv
