#include "soc_agent/policy/addresses.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace nicswitch::policy {

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.v6 = true;
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an IP address"));
}

IpAddress IpAddress::FromV4(uint32_t host_order) {
  IpAddress a;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

uint32_t IpAddress::v4() const {
  if (v6) {
    return 0;
  }
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         bytes[3];
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof(buf));
  return buf;
}

IpAddress IpAddress::Masked(int length) const {
  IpAddress m = *this;
  for (int i = 0; i < 16; ++i) {
    int keep = length - i * 8;
    if (keep >= 8) {
      continue;
    }
    m.bytes[i] = keep <= 0 ? 0 : static_cast<uint8_t>(m.bytes[i] & (0xff << (8 - keep)));
  }
  return m;
}

absl::StatusOr<IpPrefix> IpPrefix::Parse(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('/', 1));
  if (parts.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a CIDR prefix (address/length)"));
  }
  absl::StatusOr<IpAddress> address = IpAddress::Parse(parts[0]);
  int length = 0;
  if (!address.ok() || !absl::SimpleAtoi(parts[1], &length) || length < 0 ||
      length > address->bits()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a CIDR prefix (address/length)"));
  }
  if (address->Masked(length) != *address) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" has host bits set (did you mean ",
                     address->Masked(length).ToString(), "/", length, "?)"));
  }
  return IpPrefix{*address, length};
}

std::string IpPrefix::ToString() const { return absl::StrCat(address.ToString(), "/", length); }

bool IpPrefix::Contains(const IpAddress& a) const {
  return a.v6 == address.v6 && a.Masked(length) == address;
}

bool IpPrefix::Overlaps(const IpPrefix& other) const {
  if (other.address.v6 != address.v6) {
    return false;
  }
  int shorter = std::min(length, other.length);
  return address.Masked(shorter) == other.address.Masked(shorter);
}

absl::StatusOr<MacAddress> MacAddress::Parse(absl::string_view text) {
  MacAddress mac;
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  bool ok = parts.size() == 6;
  for (size_t i = 0; ok && i < parts.size(); ++i) {
    int value = 0;
    ok = parts[i].size() == 2 && absl::ascii_isxdigit(static_cast<unsigned char>(parts[i][0])) &&
         absl::ascii_isxdigit(static_cast<unsigned char>(parts[i][1])) &&
         absl::SimpleHexAtoi(parts[i], &value);
    mac.bytes[i] = static_cast<uint8_t>(value);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a MAC address"));
  }
  return mac;
}

std::string MacAddress::ToString() const {
  return absl::StrFormat("%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3],
                         bytes[4], bytes[5]);
}

}  // namespace nicswitch::policy
