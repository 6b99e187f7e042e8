#pragma once

// Address value types of the policy model: parsed once at validation, compared and hashed by
// the model's indexes and the slow path. Plain values, no DPDK.

#include <array>
#include <compare>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nicswitch::policy {

// An IPv4 or IPv6 address. IPv4 occupies bytes[0..3] (network order) and the rest is zero.
struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};

  // "10.0.0.1" or "fd00::1". INVALID_ARGUMENT quoting the text otherwise.
  static absl::StatusOr<IpAddress> Parse(absl::string_view text);
  static IpAddress FromV4(uint32_t host_order);
  // Host-order IPv4 value (10.0.0.1 == 0x0a000001); 0 for IPv6.
  uint32_t v4() const;
  int bits() const { return v6 ? 128 : 32; }
  std::string ToString() const;
  // This address with every bit after the first `length` cleared.
  IpAddress Masked(int length) const;

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.v6, a.bytes);
  }
};

struct IpPrefix {
  IpAddress address;  // host bits are zero
  int length = 0;

  // "10.0.0.0/24", "fd00::/64". Refuses host bits set ("10.0.0.1/24") and bad lengths.
  static absl::StatusOr<IpPrefix> Parse(absl::string_view text);
  std::string ToString() const;
  bool Contains(const IpAddress& a) const;
  bool Overlaps(const IpPrefix& other) const;

  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpPrefix& p) {
    return H::combine(std::move(h), p.address, p.length);
  }
};

struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  // "02:00:00:00:00:01" (either case).
  static absl::StatusOr<MacAddress> Parse(absl::string_view text);
  std::string ToString() const;
  bool IsMulticast() const { return (bytes[0] & 1) != 0; }
  bool IsZero() const { return bytes == std::array<uint8_t, 6>{}; }

  friend auto operator<=>(const MacAddress&, const MacAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const MacAddress& m) {
    return H::combine(std::move(h), m.bytes);
  }
};

}  // namespace nicswitch::policy
