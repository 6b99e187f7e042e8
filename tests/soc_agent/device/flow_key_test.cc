// The softasic's parser: ExtractKey (with its fast path for untagged IPv4 TCP/UDP) must give
// exactly the key and layout of ExtractKeyGeneric, for well-formed frames of every kind the key
// knows and for those frames mutated byte by byte and cut short; and the fast path must take the
// frames it is for (a fast path that declines everything would be correct and useless).

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "soc_agent/device/flow_key.h"
#include "tests/soc_agent/device/packet_util.h"

namespace nicswitch::device::softasic_internal {
namespace {

using testing::BuildUdp4;
using testing::Bytes;
using testing::Put16;
using testing::Udp4;

// An mbuf header around `frame` (no mempool: the parser reads buf_addr, data_off, data_len).
// The buffer ends where the frame ends, so a parser reading past data_len is caught by ASan
// (NICSWITCH_SANITIZE builds).
struct FakeMbuf {
  alignas(64) rte_mbuf m{};
  std::vector<uint8_t> buf;
  explicit FakeMbuf(const Bytes& frame) : buf(RTE_PKTMBUF_HEADROOM + frame.size(), 0xa5) {
    if (!frame.empty()) {
      std::memcpy(buf.data() + RTE_PKTMBUF_HEADROOM, frame.data(), frame.size());
    }
    m.buf_addr = buf.data();
    m.data_off = RTE_PKTMBUF_HEADROOM;
    m.data_len = static_cast<uint16_t>(frame.size());
    m.pkt_len = m.data_len;
    m.nb_segs = 1;
  }
};

struct Parsed {
  FlowKey key;
  PacketLayout layout;
};

// Both parsers, each into a key first filled with a different garbage byte, so a word either
// parser forgets to write shows up as a difference. Returns whether the fast path took the frame.
bool ParseBoth(const Bytes& frame, uint16_t in_port, uint32_t mark, Parsed& fast, Parsed& generic) {
  FakeMbuf mb(frame);
  std::memset(&fast, 0x5a, sizeof(fast));
  std::memset(&generic, 0xc3, sizeof(generic));
  const bool took = ExtractKeyFast(&mb.m, in_port, mark, fast.key, fast.layout);
  if (!took) {
    ExtractKeyGeneric(&mb.m, in_port, mark, fast.key, fast.layout);  // what ExtractKey does
  }
  ExtractKeyGeneric(&mb.m, in_port, mark, generic.key, generic.layout);
  return took;
}

// The datapath's key equals the general parser's; *fast_path (if given) says which path made it.
::testing::AssertionResult Same(const Bytes& frame, uint16_t in_port = 3, uint32_t mark = 0,
                                bool* fast_path = nullptr) {
  Parsed fast;
  Parsed generic;
  const bool took = ParseBoth(frame, in_port, mark, fast, generic);
  if (fast_path != nullptr) {
    *fast_path = took;
  }
  for (int w = 0; w < kKeyWords; ++w) {
    if (fast.key.w[w] != generic.key.w[w]) {
      return ::testing::AssertionFailure()
             << "key word " << w << ": fast " << std::hex << fast.key.w[w] << " generic "
             << generic.key.w[w] << " (frame of " << std::dec << frame.size() << " bytes)";
    }
  }
  const PacketLayout& a = fast.layout;
  const PacketLayout& b = generic.layout;
  if (a.l3_offset != b.l3_offset || a.inner_offset != b.inner_offset ||
      a.l3_is_ipv4 != b.l3_is_ipv4 || a.l3_is_ipv6 != b.l3_is_ipv6) {
    return ::testing::AssertionFailure() << "layouts differ";
  }
  return ::testing::AssertionSuccess();
}

Bytes Tcp4() {
  Bytes b = BuildUdp4(Udp4{});
  b[23] = 6;
  b.resize(14 + 20 + 20 + 6, 0);
  return b;
}

Bytes Vxlan4() {
  Udp4 outer;
  outer.dst_port = 4789;
  outer.payload = 8 + 60;
  Bytes b = BuildUdp4(outer);
  b[42] = 0x08;  // VNI valid
  b[46] = 0;
  b[47] = 0x12;
  b[48] = 0x34;
  Udp4 inner_spec;
  inner_spec.src_ip = 0x0b000001;
  const Bytes inner = BuildUdp4(inner_spec);
  std::memcpy(b.data() + 50, inner.data(), inner.size());
  return b;
}

Bytes Vlan4() {
  Bytes plain = BuildUdp4(Udp4{});
  Bytes b(plain.size() + 4);
  std::memcpy(b.data(), plain.data(), 12);
  Put16(b, 12, 0x8100);
  Put16(b, 14, 0x0064);
  std::memcpy(b.data() + 16, plain.data() + 12, plain.size() - 12);
  return b;
}

Bytes Icmp4() {
  Bytes b = BuildUdp4(Udp4{});
  b[23] = 1;
  b[34] = 8;
  return b;
}

Bytes Udp6() {
  Bytes b(14 + 40 + 8 + 10, 0);
  b[0] = 0x02;
  Put16(b, 12, 0x86dd);
  b[14] = 0x60;
  b[20] = 17;
  for (int i = 0; i < 32; ++i) {
    b[22 + i] = static_cast<uint8_t>(i * 7);
  }
  Put16(b, 54, 1000);
  Put16(b, 56, 2000);
  return b;
}

TEST(FlowKeyTest, FastPathTakesUntaggedIpv4TcpAndUdpAndGivesTheGenericKey) {
  Bytes first_fragment = BuildUdp4(Udp4{});
  first_fragment[20] = 0x20;  // MF set, offset 0: still has its ports
  for (const Bytes& frame : {BuildUdp4(Udp4{}), Tcp4(), first_fragment}) {
    bool fast = false;
    EXPECT_TRUE(Same(frame, 3, 0, &fast));
    EXPECT_TRUE(fast) << frame.size() << "-byte frame";
  }
  bool fast = false;
  EXPECT_TRUE(Same(BuildUdp4(Udp4{}), 0xffff, 0xdeadbeef, &fast));  // port and MARK in place
  EXPECT_TRUE(fast);
}

TEST(FlowKeyTest, OtherFramesGoToTheGeneralParser) {
  Bytes options = BuildUdp4(Udp4{});
  options[14] = 0x46;  // IHL 6: the "ports" are option bytes
  Bytes fragment = BuildUdp4(Udp4{});
  fragment[20] = 0x00;
  fragment[21] = 0x10;  // offset 16 (x8): no L4 header
  Bytes short_frame = BuildUdp4(Udp4{});
  short_frame.resize(37);  // one byte short of the ports
  for (const Bytes& frame : {Vxlan4(), Vlan4(), Icmp4(), Udp6(), options, fragment, short_frame}) {
    bool fast = true;
    EXPECT_TRUE(Same(frame, 3, 0, &fast)) << frame.size() << "-byte frame";
    EXPECT_FALSE(fast) << frame.size() << "-byte frame";
  }
}

// The fast path must not decide on bytes the frame does not have.
TEST(FlowKeyTest, EveryTruncationGivesTheGenericKey) {
  for (const Bytes& frame : {BuildUdp4(Udp4{}), Tcp4(), Vxlan4(), Vlan4(), Udp6()}) {
    for (size_t len = 0; len <= frame.size(); ++len) {
      const Bytes cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(len));
      ASSERT_TRUE(Same(cut)) << "cut to " << len;
    }
  }
}

// Random bytes in the header region of each kind of frame: every branch of either parser sees
// values it does not expect (ether types, IHLs, protocols, fragment bits, the VXLAN port).
TEST(FlowKeyTest, MutatedHeadersGiveTheGenericKey) {
  std::mt19937 rng(7);
  const std::vector<Bytes> seeds = {BuildUdp4(Udp4{}), Tcp4(), Vxlan4(), Vlan4(), Icmp4(), Udp6()};
  // Values that steer the parsers, to be written at random header offsets.
  const uint8_t steer[] = {0x08, 0x00, 0x45, 0x46, 0x81, 0x86, 0xdd, 0x88, 0xa8,
                           0x11, 0x06, 0x01, 0x12, 0xb5, 0x20, 0x3f, 0xff, 0x00};
  int fast = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    Bytes frame = seeds[rng() % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t off = rng() % std::min<size_t>(frame.size(), 64);
      frame[off] = (rng() & 1) != 0 ? steer[rng() % sizeof(steer)] : static_cast<uint8_t>(rng());
    }
    if ((rng() & 7) == 0) {
      frame.resize(rng() % (frame.size() + 1));
    }
    bool took = false;
    ASSERT_TRUE(Same(frame, static_cast<uint16_t>(rng()), rng(), &took)) << "iteration " << iter;
    fast += took ? 1 : 0;
  }
  // Both paths were exercised, each on many frames.
  EXPECT_GT(fast, 20000);
  EXPECT_LT(fast, 180000);
}

}  // namespace
}  // namespace nicswitch::device::softasic_internal
