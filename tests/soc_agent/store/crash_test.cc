// A writer process is killed with SIGKILL at random points, 50 times; after each kill the store
// must hold every batch the writer saw acknowledged and no part of any other batch.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "soc_agent/store/policy_store.h"
#include "tests/support/test_env.h"

namespace nicswitch::store {
namespace {

// Starts the writer with its stdout on a pipe; returns its pid and the pipe's read end.
pid_t StartWriter(const std::string& store_path, int* out_fd) {
  int fds[2];
  if (pipe(fds) != 0) {
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(CRASH_WRITER_PATH, CRASH_WRITER_PATH, store_path.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  *out_fd = fds[0];
  return pid;
}

// Reads what is available (blocking=false) or everything until EOF.
std::string ReadPipe(int fd, bool until_eof) {
  std::string out;
  fcntl(fd, F_SETFL, until_eof ? 0 : O_NONBLOCK);
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(PolicyStoreCrashTest, KilledWriterLosesNothingAcknowledgedAndAppliesNothingPartial) {
  const std::string dir = testenv::TestTempDir("policy-crash");
  const std::string path = dir + "/policy.db";
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_us(0, 40000);
  std::set<uint64_t> acknowledged;
  int kills_after_ack = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < 50; ++round) {
    SCOPED_TRACE(round);
    int fd = -1;
    pid_t pid = StartWriter(path, &fd);
    ASSERT_GT(pid, 0);
    // Wait for the first acknowledgement (or a short time), then kill at a random point.
    std::string output;
    for (int i = 0; i < 200 && output.find('\n') == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      output += ReadPipe(fd, false);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the writer exited by itself: " << wstatus;
    output += ReadPipe(fd, true);
    close(fd);
    for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
      uint64_t revision = 0;
      ASSERT_TRUE(absl::ConsumePrefix(&line, "ACK ") && absl::SimpleAtoi(line, &revision));
      acknowledged.insert(revision);
      ++kills_after_ack;
    }

    PolicyStore::Options options;
    options.path = path;
    auto store = PolicyStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    auto contents = (*store)->Load();
    ASSERT_TRUE(contents.ok()) << contents.status();
    std::map<uint64_t, int> entities_per_batch;
    for (const policy::Entity& e : contents->entities) {
      absl::string_view name = policy::NameOf(e);
      ASSERT_TRUE(absl::ConsumePrefix(&name, "b"));
      uint64_t batch = 0;
      ASSERT_TRUE(absl::SimpleAtoi(name.substr(0, name.find('-')), &batch)) << name;
      ++entities_per_batch[batch];
    }
    // Batches present are exactly 1..revision, each complete.
    ASSERT_EQ(entities_per_batch.size(), contents->revision);
    uint64_t expected = 1;
    for (const auto& [batch, count] : entities_per_batch) {
      EXPECT_EQ(batch, expected++);
      EXPECT_EQ(count, 10) << "batch " << batch << " is partial";
    }
    for (uint64_t revision : acknowledged) {
      EXPECT_LE(revision, contents->revision) << "acknowledged batch " << revision << " lost";
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("50 kills in %.1f s; %zu batches acknowledged\n", seconds, acknowledged.size());
  EXPECT_GT(acknowledged.size(), 50u) << "the writer hardly ever got to write";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nicswitch::store
