#pragma once

#include <cstdint>

#include "host_relay/virtio/split_virtqueue.h"

namespace nicswitch::relay {

// Feature bits (virtio 1.1 and vhost-user) the relay negotiates.
inline constexpr int kFeatureCsum = 0;               // VIRTIO_NET_F_CSUM
inline constexpr int kFeatureGuestCsum = 1;          // VIRTIO_NET_F_GUEST_CSUM
inline constexpr int kFeatureMrgRxbuf = 15;          // VIRTIO_NET_F_MRG_RXBUF
inline constexpr int kFeatureCtrlVq = 17;            // VIRTIO_NET_F_CTRL_VQ
inline constexpr int kFeatureMq = 22;                // VIRTIO_NET_F_MQ
inline constexpr int kFeatureIndirectDesc = 28;      // VIRTIO_RING_F_INDIRECT_DESC
inline constexpr int kFeatureEventIdx = 29;          // VIRTIO_RING_F_EVENT_IDX
inline constexpr int kFeatureLogAll = 26;            // VHOST_F_LOG_ALL
inline constexpr int kFeatureProtocolFeatures = 30;  // VHOST_USER_F_PROTOCOL_FEATURES
inline constexpr int kFeatureVersion1 = 32;          // VIRTIO_F_VERSION_1

// virtio-net header (virtio 1.1, 5.1.6). With VERSION_1 or MRG_RXBUF it is 12 bytes.
struct VirtioNetHeader {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
  uint16_t num_buffers = 0;
};
inline constexpr uint32_t kVirtioNetHeaderLen = 12;
inline constexpr uint32_t kLegacyVirtioNetHeaderLen = 10;
inline constexpr uint8_t kNetHdrFlagNeedsCsum = 1;
inline constexpr uint8_t kNetHdrFlagDataValid = 2;
inline constexpr uint32_t kEthernetHeaderLen = 14;

// Serialises `hdr` (little-endian, `hdr_len` bytes: 10 or 12) into `out`.
void EncodeVirtioNetHeader(const VirtioNetHeader& hdr, uint32_t hdr_len, uint8_t* out);
VirtioNetHeader DecodeVirtioNetHeader(const uint8_t* in, uint32_t hdr_len);

// Writes `len` bytes of `src` at byte `offset` of the chain (truncated at the chain's end),
// reporting the writes to `log` when not null.
void WriteChain(const DescriptorChain& chain, uint32_t offset, const uint8_t* src, uint32_t len,
                DirtyLog* log);

// A piece of a packet in relay memory (an mbuf segment).
struct PacketFragment {
  const uint8_t* data = nullptr;
  uint32_t len = 0;
};

// Copy path, VF -> guest: writes `hdr` + the packet into chains taken from the guest's RX queue
// `rxq` and queues their used entries (the caller flushes and notifies). With `mergeable`
// (MRG_RXBUF) a packet may fill several chains and hdr.num_buffers is set accordingly; without,
// it must fit one chain. Returns true when delivered. Otherwise nothing was consumed from the
// ring except refused chains, and the drop is counted (kNoGuestBuffer / kGuestBufferTooSmall).
// Guest writes are reported to the queue's dirty log.
bool CopyPacketToGuest(SplitVirtqueue& rxq, const PacketFragment* fragments, int num_fragments,
                       VirtioNetHeader hdr, uint32_t hdr_len, bool mergeable, DirtyLog* log);

// Copy path, guest -> VF: reads the virtio-net header into `*hdr` and copies the rest of the
// chain into `dst` (capacity `cap`). Returns the packet length, or a DropReason when the chain
// is shorter than header + Ethernet header or longer than `cap`.
struct TxGather {
  uint32_t len = 0;
  DropReason error = DropReason::kCount;  // kCount: no error
};
TxGather CopyPacketFromGuest(const DescriptorChain& chain, uint32_t hdr_len, VirtioNetHeader* hdr,
                             uint8_t* dst, uint32_t cap);

// Zero-copy TX: reads the virtio-net header into `*hdr` and returns in `out` (capacity
// kMaxChainSegments) the guest segments that hold the packet after the header. Same errors as
// CopyPacketFromGuest (`max_len` bounds the packet).
struct TxSegments {
  int count = 0;
  uint32_t len = 0;
  DropReason error = DropReason::kCount;
};
TxSegments PacketSegmentsFromGuest(const DescriptorChain& chain, uint32_t hdr_len,
                                   VirtioNetHeader* hdr, BufferSegment* out, uint32_t max_len);

}  // namespace nicswitch::relay
