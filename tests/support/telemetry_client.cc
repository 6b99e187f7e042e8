#include "tests/support/telemetry_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nicswitch::testenv {

std::string TelemetrySocketPath(const std::string& prefix) {
  std::string base = "/var/run";
  if (getuid() != 0) {
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    base = xdg != nullptr ? xdg : "/tmp";
  }
  return absl::StrCat(base, "/dpdk/", prefix, "/dpdk_telemetry.v2");
}

absl::StatusOr<std::string> QueryTelemetry(const std::string& socket_path, const std::string& cmd) {
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path.c_str());
  char buf[16384];
  absl::Status status;
  ssize_t n = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    status =
        absl::UnavailableError(absl::StrCat("connect ", socket_path, ": ", std::strerror(errno)));
  } else if (read(fd, buf, sizeof(buf)) <= 0) {  // the greeting
    status = absl::UnavailableError(absl::StrCat("no greeting on ", socket_path));
  } else if (write(fd, cmd.data(), cmd.size()) != static_cast<ssize_t>(cmd.size())) {
    status = absl::InternalError(absl::StrCat("write ", cmd, ": ", std::strerror(errno)));
  } else if ((n = read(fd, buf, sizeof(buf))) <= 0) {
    status = absl::UnavailableError(absl::StrCat("no reply to ", cmd));
  }
  close(fd);
  if (!status.ok()) {
    return status;
  }
  return std::string(buf, static_cast<size_t>(n));
}

int64_t TelemetryField(const std::string& reply, const std::string& name) {
  const std::string key = absl::StrCat("\"", name, "\":");
  const size_t at = reply.find(key);
  if (at == std::string::npos) {
    return -1;
  }
  return std::strtoll(reply.c_str() + at + key.size(), nullptr, 10);
}

}  // namespace nicswitch::testenv
