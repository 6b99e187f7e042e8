#include "common/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace nicswitch {
namespace {

std::atomic<bool> eal_called{false};
std::atomic<bool> eal_ready{false};

}  // namespace

absl::Status InitEal(const std::string& program_name, const std::vector<std::string>& args) {
  if (eal_called.exchange(true)) {
    return absl::FailedPreconditionError(
        "EAL initialisation was already attempted in this process");
  }
  // EAL may keep pointers into argv: give it storage that outlives this call.
  static std::deque<std::string>* storage = new std::deque<std::string>();
  static std::vector<char*>* argv = new std::vector<char*>();
  storage->push_back(program_name);
  for (const auto& a : args) {
    storage->push_back(a);
  }
  for (auto& s : *storage) {
    argv->push_back(s.data());
  }
  argv->push_back(nullptr);
  const int rc = rte_eal_init(static_cast<int>(storage->size()), argv->data());
  if (rc < 0) {
    const int err = rte_errno;
    return absl::InternalError(absl::StrCat("EAL initialisation failed: ", rte_strerror(err),
                                            " (rte_errno ", err,
                                            "); EAL arguments: ", absl::StrJoin(args, " ")));
  }
  eal_ready = true;
  return absl::OkStatus();
}

void CleanupEal() {
  if (eal_ready.exchange(false)) {
    // DPDK 22.11's rte_eal_cleanup unmaps memory without stopping the interrupt thread first; a
    // driver callback still running there (net_memif handling a peer that disconnects while we
    // exit) then faults. Callbacks of closed devices finish within milliseconds: let them.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    rte_eal_cleanup();
  }
}

}  // namespace nicswitch
