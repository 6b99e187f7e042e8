#pragma once

// A child process for integration tests: started with execv, stdout+stderr to a log file,
// waited for with a timeout, and always killed (SIGINT, then SIGKILL) when the object goes.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>

namespace nicswitch::relay::testing {

class Subprocess {
 public:
  Subprocess(std::string binary, std::vector<std::string> args, std::string log_path)
      : log_path_(std::move(log_path)) {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      argv.push_back(binary.data());
      for (auto& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
  }
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess() { Stop(std::chrono::seconds(5)); }

  // Exit code once the process ended within `timeout`; nullopt if it is still running.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    if (exit_code_) {
      return exit_code_;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return exit_code_;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return exit_code_;
  }

  // SIGINT, then SIGKILL if it has not exited within `grace`. Returns the exit code.
  std::optional<int> Stop(std::chrono::milliseconds grace) {
    if (pid_ > 0) {
      kill(pid_, SIGINT);
      if (!Wait(grace)) {
        kill(pid_, SIGKILL);
        Wait(std::chrono::seconds(5));
      }
    }
    return exit_code_;
  }
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      Wait(std::chrono::seconds(5));
    }
  }
  pid_t pid() const { return pid_; }
  // User + system CPU time the process used so far, in clock ticks (/proc/<pid>/stat).
  long CpuTicks() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string f;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14) utime = std::stol(f);
      if (i == 15) stime = std::stol(f);
    }
    return utime + stime;
  }
  bool running() { return pid_ > 0 && !Wait(std::chrono::milliseconds(0)); }

  std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace nicswitch::relay::testing
