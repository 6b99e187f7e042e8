#include "tests/host_relay/traffic/traffic_frames.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace nicswitch::traffic {
namespace {

constexpr uint32_t kMagic = 0x4e535754;  // "NSWT"

// Follows the L4 header of every frame.
struct PayloadHeader {
  uint32_t magic;
  uint32_t seq;
  uint32_t frame_len;
  uint32_t stream;
};
static_assert(sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) == kHeadersLen);
static_assert(sizeof(rte_icmp_hdr) == sizeof(rte_udp_hdr));
static_assert(kHeadersLen + sizeof(PayloadHeader) <= kMinFrameLen);

uint8_t PatternByte(uint32_t seq, uint32_t i) { return static_cast<uint8_t>(seq * 31 + i * 7 + 1); }

// Ones' complement checksum of `len` bytes, ready to store (the sum is order-independent, so
// the native-order sum is stored as is).
uint16_t InternetChecksum(const void* data, size_t len) {
  const uint16_t sum = rte_raw_cksum(data, len);
  return static_cast<uint16_t>(~sum);
}

// Headers of a frame known to be at least kHeadersLen long. Non-const access through
// const_cast only in the functions that write.
struct Headers {
  rte_ether_hdr* eth;
  rte_ipv4_hdr* ip;
  uint8_t* l4;
  uint8_t* payload;
};
Headers HeadersOf(uint8_t* p) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  auto* l4 = reinterpret_cast<uint8_t*>(ip + 1);
  return Headers{eth, ip, l4, l4 + sizeof(rte_udp_hdr)};
}

FrameCheck Corrupt(FrameCheck c, std::string problem) {
  c.kind = FrameKind::kCorrupt;
  c.problem = std::move(problem);
  return c;
}

}  // namespace

absl::StatusOr<Protocol> ParseProtocol(absl::string_view name) {
  if (name == "udp") {
    return Protocol::kUdp;
  }
  if (name == "icmp") {
    return Protocol::kIcmp;
  }
  return absl::InvalidArgumentError(absl::StrCat("protocol \"", name, "\" is not udp or icmp"));
}

const char* ProtocolName(Protocol protocol) { return protocol == Protocol::kUdp ? "udp" : "icmp"; }

absl::StatusOr<Mac> ParseMac(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  Mac mac;
  bool ok = parts.size() == mac.size();
  for (size_t i = 0; ok && i < parts.size(); ++i) {
    uint32_t byte = 0;
    ok = parts[i].size() == 2 && absl::SimpleHexAtoi(parts[i], &byte) && byte <= 0xff;
    mac[i] = static_cast<uint8_t>(byte);
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not a MAC address"));
  }
  return mac;
}

absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  uint32_t ip = 0;
  bool ok = parts.size() == 4;
  for (size_t i = 0; ok && i < parts.size(); ++i) {
    uint32_t octet = 0;
    ok = !parts[i].empty() && parts[i].size() <= 3 && absl::SimpleAtoi(parts[i], &octet) &&
         octet <= 255;
    ip = ip << 8 | octet;
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\" is not an IPv4 address"));
  }
  return ip;
}

void BuildFrame(Protocol protocol, const Addresses& a, const FrameId& id, uint16_t len,
                uint8_t* buf, bool udp_pseudo_header_only) {
  const Headers h = HeadersOf(buf);
  std::memcpy(h.eth->dst_addr.addr_bytes, a.dst_mac.data(), RTE_ETHER_ADDR_LEN);
  std::memcpy(h.eth->src_addr.addr_bytes, a.src_mac.data(), RTE_ETHER_ADDR_LEN);
  h.eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  std::memset(h.ip, 0, sizeof(*h.ip));
  h.ip->version_ihl = RTE_IPV4_VHL_DEF;
  h.ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(len - sizeof(rte_ether_hdr)));
  h.ip->time_to_live = 64;
  h.ip->next_proto_id = protocol == Protocol::kUdp ? IPPROTO_UDP : IPPROTO_ICMP;
  h.ip->src_addr = rte_cpu_to_be_32(a.src_ip);
  h.ip->dst_addr = rte_cpu_to_be_32(a.dst_ip);
  h.ip->hdr_checksum = rte_ipv4_cksum(h.ip);
  const PayloadHeader ph{kMagic, id.seq, len, id.stream};
  std::memcpy(h.payload, &ph, sizeof(ph));
  for (uint32_t i = sizeof(ph); i < len - kHeadersLen; ++i) {
    h.payload[i] = PatternByte(id.seq, i);
  }
  const uint16_t l4_len = static_cast<uint16_t>(len - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr));
  if (protocol == Protocol::kUdp) {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(h.l4);
    udp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(a.src_port + id.flow));
    udp->dst_port = rte_cpu_to_be_16(a.dst_port);
    udp->dgram_len = rte_cpu_to_be_16(l4_len);
    udp->dgram_cksum = 0;
    udp->dgram_cksum =
        udp_pseudo_header_only ? rte_ipv4_phdr_cksum(h.ip, 0) : rte_ipv4_udptcp_cksum(h.ip, udp);
    return;
  }
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(h.l4);
  icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
  icmp->icmp_code = 0;
  icmp->icmp_cksum = 0;
  icmp->icmp_ident = rte_cpu_to_be_16(static_cast<uint16_t>(a.icmp_id + id.flow));
  icmp->icmp_seq_nb = rte_cpu_to_be_16(static_cast<uint16_t>(id.seq));
  icmp->icmp_cksum = InternetChecksum(icmp, l4_len);
}

FrameCheck CheckFrame(const uint8_t* p, uint32_t len) {
  FrameCheck c;
  if (len < kHeadersLen + sizeof(PayloadHeader)) {
    return c;
  }
  const Headers h = HeadersOf(const_cast<uint8_t*>(p));
  PayloadHeader ph;
  std::memcpy(&ph, h.payload, sizeof(ph));
  const uint8_t proto = h.ip->next_proto_id;
  if (h.eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || ph.magic != kMagic ||
      (proto != IPPROTO_UDP && proto != IPPROTO_ICMP)) {
    return c;  // not ours
  }
  c.seq = ph.seq;
  c.stream = ph.stream;
  c.src_ip = rte_be_to_cpu_32(h.ip->src_addr);
  c.dst_ip = rte_be_to_cpu_32(h.ip->dst_addr);
  if (h.ip->version_ihl != RTE_IPV4_VHL_DEF) {
    return Corrupt(c, absl::StrCat("ipv4: version/ihl 0x", absl::Hex(h.ip->version_ihl)));
  }
  if (rte_ipv4_cksum(h.ip) != 0) {  // the sum over a header with its checksum is all ones
    return Corrupt(c, "ipv4: bad header checksum");
  }
  if (rte_be_to_cpu_16(h.ip->total_length) != len - sizeof(rte_ether_hdr)) {
    return Corrupt(c, absl::StrCat("ipv4: total length ", rte_be_to_cpu_16(h.ip->total_length),
                                   " in a frame of ", len, " bytes"));
  }
  if (ph.frame_len != len) {
    return Corrupt(c, absl::StrCat("frame of ", len, " bytes, sent as ", ph.frame_len));
  }
  const uint32_t l4_len = len - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr);
  if (proto == IPPROTO_UDP) {
    const auto* udp = reinterpret_cast<const rte_udp_hdr*>(h.l4);
    c.src_port = rte_be_to_cpu_16(udp->src_port);
    c.dst_port = rte_be_to_cpu_16(udp->dst_port);
    if (rte_be_to_cpu_16(udp->dgram_len) != l4_len) {
      return Corrupt(
          c, absl::StrCat("udp: length ", rte_be_to_cpu_16(udp->dgram_len), ", datagram ", l4_len));
    }
    if (__rte_ipv4_udptcp_cksum(h.ip, udp) != 0xffff) {
      return Corrupt(c, "udp: bad checksum");
    }
    c.kind = FrameKind::kUdp;
  } else {
    const auto* icmp = reinterpret_cast<const rte_icmp_hdr*>(h.l4);
    c.icmp_id = rte_be_to_cpu_16(icmp->icmp_ident);
    c.icmp_seq = rte_be_to_cpu_16(icmp->icmp_seq_nb);
    if (icmp->icmp_code != 0 || (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST &&
                                 icmp->icmp_type != RTE_IP_ICMP_ECHO_REPLY)) {
      return Corrupt(c, absl::StrCat("icmp: type ", icmp->icmp_type, " code ", icmp->icmp_code,
                                     " is not an echo request or reply"));
    }
    if (rte_raw_cksum(icmp, l4_len) != 0xffff) {
      return Corrupt(c, "icmp: bad checksum");
    }
    c.kind = icmp->icmp_type == RTE_IP_ICMP_ECHO_REQUEST ? FrameKind::kEchoRequest
                                                         : FrameKind::kEchoReply;
  }
  for (uint32_t i = sizeof(ph); i < len - kHeadersLen; ++i) {
    if (h.payload[i] != PatternByte(ph.seq, i)) {
      return Corrupt(c, absl::StrCat("payload: first bad byte at frame offset ", i + kHeadersLen));
    }
  }
  return c;
}

absl::Status CheckAnswer(const FrameCheck& check, Protocol protocol, const Addresses& a,
                         uint32_t stream, uint32_t flows) {
  if (check.stream != stream) {
    return absl::FailedPreconditionError(
        absl::StrCat("stream ", check.stream, ", expected ", stream));
  }
  if (protocol == Protocol::kUdp) {
    if (check.kind != FrameKind::kUdp) {
      return absl::FailedPreconditionError("not a UDP datagram");
    }
    return absl::OkStatus();
  }
  if (check.kind != FrameKind::kEchoReply) {
    return absl::FailedPreconditionError("not an ICMP echo reply");
  }
  const uint16_t id = static_cast<uint16_t>(a.icmp_id + check.seq % (flows == 0 ? 1 : flows));
  if (check.icmp_id != id || check.icmp_seq != static_cast<uint16_t>(check.seq)) {
    return absl::FailedPreconditionError(
        absl::StrCat("echo reply id ", check.icmp_id, " seq ", check.icmp_seq, " for frame ",
                     check.seq, " sent with id ", id, " seq ", static_cast<uint16_t>(check.seq)));
  }
  return absl::OkStatus();
}

bool MakeAnswer(uint8_t* p, uint32_t len, bool swap_addresses) {
  const Headers h = HeadersOf(p);
  const uint32_t l4_len = len - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr);
  const bool udp = h.ip->next_proto_id == IPPROTO_UDP;
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(h.l4);
  if (!udp && icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST) {
    return false;
  }
  if (swap_addresses) {
    // By value: the headers are packed, and g++ binds no reference to a packed field.
    const rte_ether_addr mac = h.eth->src_addr;
    h.eth->src_addr = h.eth->dst_addr;
    h.eth->dst_addr = mac;
    const rte_be32_t ip = h.ip->src_addr;
    h.ip->src_addr = h.ip->dst_addr;
    h.ip->dst_addr = ip;
    if (udp) {
      // Ones' complement sums do not depend on order: the UDP checksum stays valid.
      auto* u = reinterpret_cast<rte_udp_hdr*>(h.l4);
      const rte_be16_t port = u->src_port;
      u->src_port = u->dst_port;
      u->dst_port = port;
    }
  }
  h.ip->time_to_live = 64;
  h.ip->hdr_checksum = 0;
  h.ip->hdr_checksum = rte_ipv4_cksum(h.ip);
  if (!udp) {
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = 0;
    icmp->icmp_cksum = InternetChecksum(icmp, l4_len);
  }
  return true;
}

}  // namespace nicswitch::traffic
