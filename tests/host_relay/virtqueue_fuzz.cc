// libFuzzer target over the virtqueue parser: the input is a guest's whole ring state
// (descriptor table, avail ring, indirect tables, buffers) in one guest memory allocation.
// Every chain the relay accepts is then read (TX) or written (RX) in full, so ASan catches any
// accepted buffer that is not really inside guest memory.
#include <cstdint>
#include <cstring>
#include <vector>

#include "host_relay/virtio/virtio_net.h"
#include "tests/host_relay/fake_guest.h"

namespace {
using nicswitch::relay::BufferSegment;
using nicswitch::relay::CopyPacketFromGuest;
using nicswitch::relay::CopyPacketToGuest;
using nicswitch::relay::DescriptorChain;
using nicswitch::relay::DirectionStats;
using nicswitch::relay::kMaxChainSegments;
using nicswitch::relay::PacketFragment;
using nicswitch::relay::PacketSegmentsFromGuest;
using nicswitch::relay::SplitVirtqueue;
using nicswitch::relay::VirtioNetHeader;
using nicswitch::relay::testing::FakeGuestQueue;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) {
    return 0;
  }
  const uint16_t qsize = static_cast<uint16_t>(1u << (data[0] % 6));  // 1..32
  const bool device_writes = data[1] & 1;
  const bool mergeable = data[1] & 2;
  const uint16_t start = static_cast<uint16_t>(data[2] | (data[3] << 8));
  data += 4;
  size -= 4;
  FakeGuestQueue guest(qsize, 8192);
  // The rest of the input is written over guest memory from the descriptor table on:
  // descriptors, avail ring (flags, idx, entries), used ring, buffers.
  uint8_t* mem = guest.host(FakeGuestQueue::kGuestBase);
  std::memcpy(mem, data, std::min(size, guest.bytes()));
  DirectionStats stats;
  auto q =
      SplitVirtqueue::Create(guest.rings(), guest.memory(), device_writes, start, start, &stats);
  if (!q.ok()) {
    return 0;
  }
  DescriptorChain chain;
  std::vector<uint8_t> packet(9000, 0xab);
  std::vector<uint8_t> out(9018);
  BufferSegment segs[kMaxChainSegments];
  for (int i = 0; i < 2 * qsize + 2; ++i) {
    if (device_writes) {
      const PacketFragment frag{packet.data(), static_cast<uint32_t>(60 + (i * 997) % 8940)};
      CopyPacketToGuest(**q, &frag, 1, VirtioNetHeader{}, 12, mergeable, nullptr);
      continue;
    }
    const auto st = (*q)->Pop(&chain);
    if (st == SplitVirtqueue::PopStatus::kEmpty) {
      break;
    }
    if (st == SplitVirtqueue::PopStatus::kOk) {
      VirtioNetHeader hdr;
      CopyPacketFromGuest(chain, 12, &hdr, out.data(), static_cast<uint32_t>(out.size()));
      const auto s = PacketSegmentsFromGuest(chain, 12, &hdr, segs, 9018);
      volatile uint8_t sink = 0;
      for (int k = 0; k < s.count; ++k) {
        sink = sink + segs[k].host[0] + segs[k].host[segs[k].len - 1];
      }
      (*q)->PushUsed(chain.head, 0);
    }
  }
  (*q)->FlushUsed();
  return 0;
}
