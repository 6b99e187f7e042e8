#include "tests/soc_agent/slowpath/packet_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace nicswitch::slowpath::test {
namespace {

std::vector<uint8_t> Mac(const std::string& text) {
  unsigned b[6];
  if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) !=
      6) {
    std::abort();
  }
  return {static_cast<uint8_t>(b[0]), static_cast<uint8_t>(b[1]), static_cast<uint8_t>(b[2]),
          static_cast<uint8_t>(b[3]), static_cast<uint8_t>(b[4]), static_cast<uint8_t>(b[5])};
}

uint32_t Ip(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) {
    std::abort();
  }
  return ntohl(a.s_addr);
}

}  // namespace

void FrameBuilder::Put16(uint16_t v) {
  bytes_.push_back(static_cast<uint8_t>(v >> 8));
  bytes_.push_back(static_cast<uint8_t>(v));
}
void FrameBuilder::Put32(uint32_t v) {
  Put16(static_cast<uint16_t>(v >> 16));
  Put16(static_cast<uint16_t>(v));
}

FrameBuilder& FrameBuilder::Eth(const std::string& dst, const std::string& src, uint16_t type) {
  for (uint8_t b : Mac(dst)) bytes_.push_back(b);
  for (uint8_t b : Mac(src)) bytes_.push_back(b);
  Put16(type);
  return *this;
}

FrameBuilder& FrameBuilder::Vlan(uint16_t vid, uint16_t inner_type) {
  Put16(vid);
  Put16(inner_type);
  return *this;
}

FrameBuilder& FrameBuilder::Ipv4(const std::string& src, const std::string& dst, uint8_t protocol,
                                 uint8_t ttl) {
  ipv4_offsets_.push_back(bytes_.size());
  bytes_.push_back(0x45);
  bytes_.push_back(0);
  Put16(0);       // total length: Finish()
  Put16(0x1234);  // id
  Put16(0x4000);  // DF
  bytes_.push_back(ttl);
  bytes_.push_back(protocol);
  Put16(0);  // checksum: Finish()
  Put32(Ip(src));
  Put32(Ip(dst));
  return *this;
}

FrameBuilder& FrameBuilder::Udp(uint16_t src, uint16_t dst) {
  udp_offsets_.push_back(bytes_.size());
  Put16(src);
  Put16(dst);
  Put16(0);  // length: Finish()
  Put16(0);  // no checksum (IPv4)
  return *this;
}

FrameBuilder& FrameBuilder::Tcp(uint16_t src, uint16_t dst) {
  Put16(src);
  Put16(dst);
  Put32(1);       // seq
  Put32(0);       // ack
  Put16(0x5002);  // data offset 5, SYN
  Put16(65535);   // window
  Put32(0);       // checksum, urgent
  return *this;
}

FrameBuilder& FrameBuilder::Icmp(uint8_t type, uint8_t code) {
  bytes_.push_back(type);
  bytes_.push_back(code);
  Put16(0);
  Put32(0x00010001);  // id, sequence
  return *this;
}

FrameBuilder& FrameBuilder::Arp(uint16_t op, const std::string& sender_mac,
                                const std::string& sender_ip, const std::string& target_mac,
                                const std::string& target_ip) {
  Put16(1);
  Put16(0x0800);
  bytes_.push_back(6);
  bytes_.push_back(4);
  Put16(op);
  for (uint8_t b : Mac(sender_mac)) bytes_.push_back(b);
  Put32(Ip(sender_ip));
  for (uint8_t b : Mac(target_mac)) bytes_.push_back(b);
  Put32(Ip(target_ip));
  return *this;
}

FrameBuilder& FrameBuilder::Vxlan(uint32_t vni) {
  Put32(0x08000000);
  Put32(vni << 8);
  return *this;
}

FrameBuilder& FrameBuilder::Payload(size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(seed + i * 7));
  return *this;
}

FrameBuilder& FrameBuilder::Raw(const std::vector<uint8_t>& raw) {
  bytes_.insert(bytes_.end(), raw.begin(), raw.end());
  return *this;
}

std::vector<uint8_t> FrameBuilder::Finish() {
  const size_t end = bytes_.size();
  for (auto it = udp_offsets_.rbegin(); it != udp_offsets_.rend(); ++it) {
    const size_t len = end - *it;
    bytes_[*it + 4] = static_cast<uint8_t>(len >> 8);
    bytes_[*it + 5] = static_cast<uint8_t>(len);
  }
  for (auto it = ipv4_offsets_.rbegin(); it != ipv4_offsets_.rend(); ++it) {
    const size_t off = *it;
    const size_t len = end - off;
    bytes_[off + 2] = static_cast<uint8_t>(len >> 8);
    bytes_[off + 3] = static_cast<uint8_t>(len);
    bytes_[off + 10] = bytes_[off + 11] = 0;
    uint32_t sum = 0;
    for (size_t i = 0; i < 20; i += 2) sum += bytes_[off + i] << 8 | bytes_[off + i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    const uint16_t csum = static_cast<uint16_t>(~sum);
    bytes_[off + 10] = static_cast<uint8_t>(csum >> 8);
    bytes_[off + 11] = static_cast<uint8_t>(csum);
  }
  return bytes_;
}

}  // namespace nicswitch::slowpath::test
