#pragma once

// A child process for integration and end-to-end tests: started with execv, stdout and stderr
// to a log file, waited for with a timeout, and always stopped (SIGTERM, then SIGKILL) when the
// object goes, so a failing test leaves nothing running.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace nicswitch::testenv {

class Subprocess {
 public:
  // Starts `binary` with `args`; output goes to `log_path` (truncated).
  Subprocess(const std::string& binary, const std::vector<std::string>& args, std::string log_path);
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  // The exit code (128 + signal when killed) once the process ended within `timeout`;
  // nullopt while it is still running.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // Sends `signal`, waits up to `grace`, then SIGKILL. Returns the exit code.
  std::optional<int> Stop(int signal, std::chrono::milliseconds grace);
  void Kill();
  bool running();
  pid_t pid() const { return pid_; }
  // User + system CPU time the process used so far, in clock ticks (/proc/<pid>/stat).
  long CpuTicks() const;
  // Everything the process wrote so far.
  std::string Log() const;

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes. Returns whether it held.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace nicswitch::testenv
