#include "tests/support/test_env.h"

#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace nicswitch::testenv {

std::string UniqueFilePrefix(const std::string& stem) { return absl::StrCat(stem, "-", getpid()); }

std::vector<std::string> TestEalArgs(const std::string& stem, const std::vector<std::string>& extra,
                                     int memory_mb, const std::string& lcores) {
  std::vector<std::string> args = {"-l",
                                   lcores,
                                   "--no-pci",
                                   "--no-huge",
                                   "-m",
                                   std::to_string(memory_mb),
                                   "--file-prefix",
                                   UniqueFilePrefix(stem),
                                   "--no-telemetry",
                                   "--log-level=lib.eal:warning"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string TestTempDir(const std::string& stem) {
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::path dir = std::filesystem::path(tmp != nullptr ? tmp : "/tmp") /
                              absl::StrCat("nicswitch-", UniqueFilePrefix(stem));
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace nicswitch::testenv
