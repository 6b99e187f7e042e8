#pragma once

// The frames nicswitch-traffic sends and checks: UDP datagrams and ICMP echo requests/replies
// over IPv4, each carrying a payload (a header naming the frame, then a pattern derived from its
// sequence number) that lets the receiver verify every byte. Plain byte buffers, no mbufs: the
// functions need no EAL, so tests check them directly (and with an independent decoder).

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nicswitch::traffic {

enum class Protocol { kUdp, kIcmp };

// "udp" or "icmp"; INVALID_ARGUMENT otherwise.
absl::StatusOr<Protocol> ParseProtocol(absl::string_view name);
const char* ProtocolName(Protocol protocol);

using Mac = std::array<uint8_t, 6>;

// "02:00:00:00:00:01" -> bytes; INVALID_ARGUMENT naming the text otherwise.
absl::StatusOr<Mac> ParseMac(absl::string_view text);
// Dotted quad -> host byte order; INVALID_ARGUMENT naming the text otherwise.
absl::StatusOr<uint32_t> ParseIpv4(absl::string_view text);

// Where a sender's frames go. Flow f (0 <= f < flows) of a sender uses UDP source port
// `src_port + f` or ICMP identifier `icmp_id + f`; everything else is shared by its flows.
struct Addresses {
  Mac src_mac = {0x02, 0, 0, 0, 0, 0x01};
  Mac dst_mac = {0x02, 0, 0, 0, 0, 0x02};
  uint32_t src_ip = 0x0a000001;  // 10.0.0.1, host byte order
  uint32_t dst_ip = 0x0a000002;  // 10.0.0.2
  uint16_t src_port = 1024;
  uint16_t dst_port = 4790;
  uint16_t icmp_id = 0x1000;
};

// Frame sizes without FCS. Ethernet + IPv4 + UDP (or the ICMP echo header) is 42 bytes; the
// payload header follows.
inline constexpr uint16_t kMinFrameLen = 60;
inline constexpr uint16_t kMaxFrameLen = 9018;
inline constexpr uint16_t kHeadersLen = 42;

// What a frame carries, besides its addresses.
struct FrameId {
  uint32_t seq = 0;     // per sender; the ICMP sequence number is its low 16 bits
  uint32_t stream = 0;  // sender id carried in the payload (several senders on one port)
  uint32_t flow = 0;    // which of the sender's flows (offsets the port / ICMP identifier)
};

// Writes frame `id` of `len` bytes ([kMinFrameLen, kMaxFrameLen]) into `buf[0, len)`: an ICMP
// echo request for kIcmp. IPv4, UDP and ICMP checksums are complete, except that with
// `udp_pseudo_header_only` the UDP checksum field holds only the pseudo-header sum, as DPDK's
// TX checksum offload contract asks (the device completes it).
void BuildFrame(Protocol protocol, const Addresses& addresses, const FrameId& id, uint16_t len,
                uint8_t* buf, bool udp_pseudo_header_only = false);

enum class FrameKind {
  kForeign,      // not a frame of this tool (ARP, another payload, too short to tell)
  kCorrupt,      // one of ours, damaged: `problem` says how
  kUdp,          // intact UDP frame
  kEchoRequest,  // intact ICMP echo request
  kEchoReply,    // intact ICMP echo reply
};

struct FrameCheck {
  FrameKind kind = FrameKind::kForeign;
  uint32_t seq = 0;     // from the payload header (kCorrupt: as far as it could be read)
  uint32_t stream = 0;  // from the payload header
  uint16_t src_port = 0, dst_port = 0;  // UDP
  uint16_t icmp_id = 0, icmp_seq = 0;   // ICMP
  uint32_t src_ip = 0, dst_ip = 0;      // host byte order
  std::string problem;                  // kCorrupt only
  bool intact() const { return kind != FrameKind::kForeign && kind != FrameKind::kCorrupt; }
};

// Classifies `p[0, len)` and, for one of ours, checks everything: the IPv4 header checksum and
// total length, the UDP or ICMP checksum over the whole datagram, the frame length recorded in
// the payload, and every payload byte.
FrameCheck CheckFrame(const uint8_t* p, uint32_t len);

// For a sender: is `check` (an intact frame) the answer to one of its own frames? UDP: a
// datagram of its stream. ICMP: an echo reply of its stream whose identifier is that of the
// flow the payload's sequence number was sent on and whose ICMP sequence number matches.
// OK or FAILED_PRECONDITION saying what does not match.
absl::Status CheckAnswer(const FrameCheck& check, Protocol protocol, const Addresses& addresses,
                         uint32_t stream, uint32_t flows);

// Turns an intact frame in place into the answer a peer sends back, and returns false when the
// frame gets no answer. A UDP frame is reflected (ports, addresses and MACs swapped when
// `swap_addresses`); an ICMP echo request becomes an echo reply with the same identifier,
// sequence number and data (type 0, new ICMP checksum; addresses swapped when `swap_addresses`);
// an echo reply gets no answer. The IPv4 TTL is reset to 64, as a host's fresh packet has it.
bool MakeAnswer(uint8_t* p, uint32_t len, bool swap_addresses);

}  // namespace nicswitch::traffic
