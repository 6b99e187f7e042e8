// The traffic tool's frames, checked by the tool's own checker and by two independent decoders:
// the agent's slow-path parser (what the switch will see) and tshark (checksums, ICMP
// request/reply pairing).
#include "tests/host_relay/traffic/traffic_frames.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "soc_agent/slowpath/packet.h"
#include "tests/support/test_env.h"

namespace nicswitch::traffic {
namespace {

using Bytes = std::vector<uint8_t>;

Addresses TestAddresses() {
  Addresses a;
  a.src_mac = {0x02, 0x11, 0, 0, 0, 0x0a};
  a.dst_mac = {0x02, 0x11, 0, 0, 0, 0x0b};
  a.src_ip = 0xc0a8010a;  // 192.168.1.10
  a.dst_ip = 0xc0a8020b;  // 192.168.2.11
  a.src_port = 5000;
  a.dst_port = 6000;
  a.icmp_id = 0x2000;
  return a;
}

Bytes Build(Protocol p, const Addresses& a, FrameId id, uint16_t len) {
  Bytes b(len, 0xee);
  BuildFrame(p, a, id, len, b.data());
  return b;
}

TEST(TrafficFramesTest, UdpFramesCheckAndParseAsSent) {
  const Addresses a = TestAddresses();
  for (uint16_t len : {60, 61, 64, 1500, 9018}) {
    const Bytes f = Build(Protocol::kUdp, a, {77, 3, 2}, len);
    const FrameCheck c = CheckFrame(f.data(), len);
    ASSERT_EQ(c.kind, FrameKind::kUdp) << len << ": " << c.problem;
    EXPECT_EQ(c.seq, 77u);
    EXPECT_EQ(c.stream, 3u);
    EXPECT_EQ(c.src_port, 5002);  // flow 2
    EXPECT_EQ(c.dst_port, 6000);
    EXPECT_TRUE(CheckAnswer(c, Protocol::kUdp, a, 3, 4).ok());
    EXPECT_FALSE(CheckAnswer(c, Protocol::kUdp, a, 4, 4).ok()) << "another stream";

    auto parsed = slowpath::ParsePacket(f.data(), f.size());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    const slowpath::HeaderLayer& l = parsed->outer;
    EXPECT_TRUE(l.is_ipv4);
    EXPECT_EQ(l.ip_protocol, slowpath::kIpProtoUdp);
    EXPECT_EQ(l.ipv4_src.value, a.src_ip);
    EXPECT_EQ(l.ipv4_dst.value, a.dst_ip);
    EXPECT_EQ(l.l4_src_port, 5002);
    EXPECT_EQ(l.l4_dst_port, 6000);
    EXPECT_EQ(l.eth_src.bytes, a.src_mac);
    EXPECT_EQ(l.eth_dst.bytes, a.dst_mac);
    EXPECT_EQ(l.ttl, 64);
  }
}

TEST(TrafficFramesTest, IcmpEchoRequestBecomesAMatchingReply) {
  const Addresses a = TestAddresses();
  for (uint16_t len : {60, 98, 1500, 9018}) {
    // Frame 70000 on flow 1: ICMP sequence number 70000 mod 65536, identifier 0x2001.
    Bytes f = Build(Protocol::kIcmp, a, {70000, 5, 1}, len);
    FrameCheck c = CheckFrame(f.data(), len);
    ASSERT_EQ(c.kind, FrameKind::kEchoRequest) << len << ": " << c.problem;
    EXPECT_EQ(c.icmp_id, 0x2001);
    EXPECT_EQ(c.icmp_seq, 70000 % 65536);
    EXPECT_EQ(c.seq, 70000u);
    EXPECT_FALSE(CheckAnswer(c, Protocol::kIcmp, a, 5, 3).ok()) << "a request is no answer";
    auto parsed = slowpath::ParsePacket(f.data(), f.size());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->outer.ip_protocol, slowpath::kIpProtoIcmp);
    EXPECT_EQ(parsed->outer.icmp_type, 8);
    EXPECT_EQ(parsed->outer.icmp_code, 0);

    ASSERT_TRUE(MakeAnswer(f.data(), len, /*swap_addresses=*/true));
    c = CheckFrame(f.data(), len);
    ASSERT_EQ(c.kind, FrameKind::kEchoReply) << c.problem;
    EXPECT_EQ(c.src_ip, a.dst_ip);
    EXPECT_EQ(c.dst_ip, a.src_ip);
    // A sender with 3 flows sends frame 70000 on flow 70000 % 3 = 1; one with 2 flows on
    // flow 0, so for it an identifier of flow 1 is the wrong answer.
    EXPECT_TRUE(CheckAnswer(c, Protocol::kIcmp, a, 5, 3).ok())
        << CheckAnswer(c, Protocol::kIcmp, a, 5, 3);
    EXPECT_FALSE(CheckAnswer(c, Protocol::kIcmp, a, 5, 2).ok());
    parsed = slowpath::ParsePacket(f.data(), f.size());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->outer.icmp_type, 0);
    EXPECT_EQ(parsed->outer.ipv4_src.value, a.dst_ip);
    EXPECT_EQ(parsed->outer.eth_src.bytes, a.dst_mac);
    EXPECT_EQ(parsed->outer.eth_dst.bytes, a.src_mac);

    EXPECT_FALSE(MakeAnswer(f.data(), len, true)) << "an echo reply is not answered";
  }
}

TEST(TrafficFramesTest, AnswersResetTheTtlAndKeepEveryChecksumValid) {
  const Addresses a = TestAddresses();
  for (Protocol p : {Protocol::kUdp, Protocol::kIcmp}) {
    Bytes f = Build(p, a, {9, 0, 0}, 200);
    f[14 + 8] = 61;  // a switch decremented the TTL (and fixed the header checksum)
    f[14 + 10] = f[14 + 11] = 0;
    auto parsed = slowpath::ParsePacket(f.data(), f.size());
    ASSERT_TRUE(parsed.ok());
    ASSERT_TRUE(MakeAnswer(f.data(), 200, /*swap_addresses=*/false));
    const FrameCheck c = CheckFrame(f.data(), 200);
    EXPECT_TRUE(c.intact()) << c.problem;
    EXPECT_EQ(c.src_ip, a.src_ip) << "not swapped";
    EXPECT_EQ(f[14 + 8], 64);
  }
}

TEST(TrafficFramesTest, EveryDamagedByteAfterTheMacsIsDetected) {
  const Addresses a = TestAddresses();
  for (Protocol p : {Protocol::kUdp, Protocol::kIcmp}) {
    const Bytes good = Build(p, a, {1234, 0, 0}, 150);
    for (size_t i = 12; i < good.size(); ++i) {
      for (uint8_t flip : {0x01, 0x80}) {
        Bytes bad = good;
        bad[i] ^= flip;
        const FrameCheck c = CheckFrame(bad.data(), bad.size());
        EXPECT_FALSE(c.intact()) << ProtocolName(p) << ": byte " << i << " ^ " << int{flip};
      }
    }
    // A truncated or padded frame is damaged too.
    EXPECT_FALSE(CheckFrame(good.data(), good.size() - 1).intact());
    Bytes longer = good;
    longer.push_back(0);
    EXPECT_FALSE(CheckFrame(longer.data(), longer.size()).intact());
  }
}

TEST(TrafficFramesTest, ParsesAddressesAndRefusesNonsense) {
  EXPECT_EQ(*ParseMac("02:aB:00:00:00:ff"), (Mac{0x02, 0xab, 0, 0, 0, 0xff}));
  EXPECT_EQ(*ParseIpv4("10.0.1.254"), 0x0a0001feu);
  for (const char* bad : {"", "02:00:00:00:00", "02:00:00:00:00:0g", "2:00:00:00:00:00:00"}) {
    EXPECT_FALSE(ParseMac(bad).ok()) << bad;
  }
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "10..0.1", "a.b.c.d", "1.2.3.4.5"}) {
    EXPECT_FALSE(ParseIpv4(bad).ok()) << bad;
  }
  EXPECT_EQ(*ParseProtocol("icmp"), Protocol::kIcmp);
  EXPECT_FALSE(ParseProtocol("tcp").ok());
}

// tshark decodes the frames on its own: checksums good, ICMP fields as sent, and it pairs each
// echo reply with its request (icmp.resp_to names the request's frame number).
TEST(TrafficFramesTest, TsharkAgreesOnChecksumsAndPairsRepliesWithRequests) {
  const Addresses a = TestAddresses();
  std::vector<Bytes> frames;
  frames.push_back(Build(Protocol::kUdp, a, {1, 0, 0}, 1000));
  frames.push_back(Build(Protocol::kIcmp, a, {2, 0, 0}, 98));
  frames.push_back(Build(Protocol::kIcmp, a, {3, 0, 1}, 1514));
  for (int i : {1, 2}) {
    frames.push_back(frames[i]);
    ASSERT_TRUE(MakeAnswer(frames.back().data(), frames.back().size(), true));
  }
  const std::string dir = testenv::TestTempDir("traffic_frames");
  const std::string pcap = dir + "/frames.pcap";
  {
    std::ofstream out(pcap, std::ios::binary);
    const uint8_t header[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2,    0,    4, 0, 0, 0, 0, 0,
                                0,    0,    0,    0,    0xff, 0xff, 0, 0, 1, 0, 0, 0};
    out.write(reinterpret_cast<const char*>(header), sizeof(header));
    uint32_t t = 0;
    for (const Bytes& f : frames) {
      const uint32_t rec[4] = {++t, 0, static_cast<uint32_t>(f.size()),
                               static_cast<uint32_t>(f.size())};
      out.write(reinterpret_cast<const char*>(rec), sizeof(rec));
      out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
    }
  }
  const std::string cmd = absl::StrCat(
      "tshark -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -r ", pcap,
      " -T fields -E separator=, -e ip.src -e ip.dst -e ip.checksum.status -e udp.srcport"
      " -e udp.checksum.status -e icmp.type -e icmp.ident -e icmp.seq -e icmp.checksum.status"
      " -e icmp.resp_to 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) {
    output += buf;
  }
  ASSERT_EQ(pclose(pipe), 0) << output;
  // Checksum status 1 is tshark's "good". Identifiers and sequence numbers in decimal.
  const std::vector<std::string> expected = {
      "192.168.1.10,192.168.2.11,1,5000,1,,,,,",    "192.168.1.10,192.168.2.11,1,,,8,8192,2,1,",
      "192.168.1.10,192.168.2.11,1,,,8,8193,3,1,",  "192.168.2.11,192.168.1.10,1,,,0,8192,2,1,2",
      "192.168.2.11,192.168.1.10,1,,,0,8193,3,1,3",
  };
  const std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines, expected)
      << "fields: ip.src ip.dst ip.checksum.status udp.srcport udp.checksum.status icmp.type "
         "icmp.ident icmp.seq icmp.checksum.status icmp.resp_to\n"
      << output;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nicswitch::traffic
