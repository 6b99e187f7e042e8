#pragma once

// Builds test frames byte by byte (network order), independent of the code under test.

#include <cstdint>
#include <string>
#include <vector>

namespace nicswitch::slowpath::test {

class FrameBuilder {
 public:
  FrameBuilder& Eth(const std::string& dst, const std::string& src, uint16_t type);
  FrameBuilder& Vlan(uint16_t vid, uint16_t inner_type);
  // IPv4 header; total length and checksum are filled in by Finish().
  FrameBuilder& Ipv4(const std::string& src, const std::string& dst, uint8_t protocol,
                     uint8_t ttl = 64);
  FrameBuilder& Udp(uint16_t src, uint16_t dst);  // length filled in by Finish()
  FrameBuilder& Tcp(uint16_t src, uint16_t dst);
  FrameBuilder& Icmp(uint8_t type, uint8_t code);
  FrameBuilder& Arp(uint16_t op, const std::string& sender_mac, const std::string& sender_ip,
                    const std::string& target_mac, const std::string& target_ip);
  FrameBuilder& Vxlan(uint32_t vni);
  FrameBuilder& Payload(size_t bytes, uint8_t seed = 0);
  FrameBuilder& Raw(const std::vector<uint8_t>& bytes);

  // Fixes IPv4 total lengths/checksums and UDP lengths of every layer, innermost first.
  std::vector<uint8_t> Finish();

 private:
  void Put16(uint16_t v);
  void Put32(uint32_t v);
  std::vector<uint8_t> bytes_;
  std::vector<size_t> ipv4_offsets_;
  std::vector<size_t> udp_offsets_;
};

}  // namespace nicswitch::slowpath::test
