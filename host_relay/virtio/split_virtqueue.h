#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "host_relay/virtio/guest_memory.h"
#include "host_relay/virtio/relay_stats.h"

namespace nicswitch::relay {

// Split-ring layout constants (virtio 1.1, 2.7).
inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;
inline constexpr uint16_t kUsedFlagNoNotify = 1;
inline constexpr uint32_t kMaxQueueSize = 32768;

// At most this many buffer pieces per chain (descriptors, split further where a buffer spans
// guest memory regions). Linux posts at most MAX_SKB_FRAGS + 2 = 19; longer chains are refused.
inline constexpr int kMaxChainSegments = 32;

// One guest buffer piece, contiguous in guest memory and in this process. Deliberately
// without default member initializers: arrays of kMaxChainSegments of them live on the stack of
// the per-packet paths, and zeroing 768 bytes per packet cost more than the rest of the copy
// path's work. Only the first num_segments entries of an array are ever meaningful.
struct BufferSegment {
  uint64_t gpa;
  uint8_t* host;
  uint32_t len;
};

// A validated descriptor chain: every segment lies inside guest memory and has the direction
// the queue requires. segments[0, num_segments) are set; the rest are indeterminate.
struct DescriptorChain {
  uint16_t head = 0;
  uint16_t num_segments = 0;
  uint32_t total_len = 0;
  bool indirect = false;
  BufferSegment segments[kMaxChainSegments];
};

// Receives the guest-memory writes the relay makes, for dirty-page logging during live
// migration (rte_vhost_log_write / rte_vhost_log_used_vring). Called on the datapath thread.
class DirtyLog {
 public:
  virtual ~DirtyLog() = default;
  // `len` bytes at guest physical address `gpa` were written.
  virtual void GuestWritten(uint64_t gpa, uint64_t len) = 0;
  // `len` bytes at `offset` into the used ring were written.
  virtual void UsedWritten(uint64_t offset, uint64_t len) = 0;
};

// Where a split ring lives in this process (rte_vhost_get_vhost_vring gives these).
struct VringAddresses {
  void* desc = nullptr;
  void* avail = nullptr;
  void* used = nullptr;
  uint32_t size = 0;
};

// The device side of one split virtqueue. Everything in the rings is written by an untrusted
// guest, possibly concurrently: each value is read once, validated, and never trusted again
// (a descriptor is copied out before it is checked). A chain that fails validation is refused,
// counted in the queue's DirectionStats, returned to the guest with length 0 when its head index
// is valid, and the queue carries on with the next one.
//
// Not thread-safe: one datapath thread owns a queue. Allocation-free after Create.
class SplitVirtqueue {
 public:
  // `device_writes` is true for a queue the device fills (the guest's RX queue): every
  // descriptor must then be device-writable; false (guest TX): every one must be read-only.
  // `memory` and `stats` must outlive the queue. Ring size must be a power of two <= 32768.
  static absl::StatusOr<std::unique_ptr<SplitVirtqueue>> Create(
      const VringAddresses& rings, const GuestMemory* memory, bool device_writes,
      uint16_t last_avail_idx, uint16_t last_used_idx, DirectionStats* stats);

  enum class PopStatus { kOk, kEmpty, kRefused };

  // Takes the next available chain into `*chain`. kEmpty: nothing available (or the avail
  // index is implausible, which is counted once per bad value). kRefused: a chain was consumed
  // and refused (counted); call again for the next one.
  PopStatus Pop(DescriptorChain* chain);

  // Number of chains the guest made available and the relay has not taken (0 when the avail
  // index jumped by more than the ring size). Reads the guest's avail index.
  uint16_t Pending() const;

  // Queues a used entry (not visible to the guest until FlushUsed).
  void PushUsed(uint16_t head, uint32_t len);
  // Prefetches the descriptors of the next `n` posted chains (at most those the last validated
  // avail index covers), so walking them does not wait for the guest's lines one by one.
  void PrefetchAvail(uint16_t n) const;
  // Publishes every queued used entry (store-release of used->idx), logging them when dirty
  // logging is on. Returns how many were published.
  uint16_t FlushUsed();

  // Rolls back Pop/PushUsed calls made since the positions were read (used entries not yet
  // flushed). Used when a packet cannot be delivered after all.
  void Rewind(uint16_t last_avail_idx, uint16_t used_shadow_idx);

  // Whether the guest wants an interrupt for the used entries published so far (call after
  // FlushUsed). Without EVENT_IDX: unless it set VRING_AVAIL_F_NO_INTERRUPT. With EVENT_IDX:
  // when the used index passed the guest's used_event since the last call (the virtio 1.x
  // vring_need_event rule); each call counts as "signalled up to here".
  bool GuestWantsInterrupt();
  // Asks the guest to kick (true) or not to (false) after adding buffers: VRING_USED_F_NO_NOTIFY
  // without EVENT_IDX; with it, avail_event = the next avail index this queue will read (when
  // not wanted, avail_event is left alone: the guest kicks at most once more).
  void SetKickWanted(bool wanted);
  // VIRTIO_RING_F_EVENT_IDX negotiated: interrupts and kicks use used_event / avail_event.
  void set_event_idx(bool on) {
    event_idx_ = on;
    signalled_valid_ = false;
  }

  void set_dirty_log(DirtyLog* log) { log_ = log; }
  DirtyLog* dirty_log() const { return log_; }

  uint16_t last_avail_idx() const { return last_avail_; }
  uint16_t used_shadow_idx() const { return used_shadow_; }
  uint16_t published_used_idx() const { return used_published_; }
  uint32_t size() const { return size_; }
  const GuestMemory& memory() const { return *memory_; }
  DirectionStats& stats() const { return *stats_; }

 private:
  SplitVirtqueue() = default;
  // Validates the chain starting at `head`; 0 (kCount) on success.
  DropReason Walk(uint16_t head, DescriptorChain* chain) const;
  uint16_t LoadAvailIdx() const;

  const uint8_t* desc_ = nullptr;
  uint8_t* avail_ = nullptr;
  uint8_t* used_ = nullptr;
  uint32_t size_ = 0;
  const GuestMemory* memory_ = nullptr;
  bool device_writes_ = false;
  uint16_t last_avail_ = 0;
  mutable uint16_t avail_shadow_ = 0;  // last validated avail index
  uint16_t used_shadow_ = 0;
  uint16_t used_published_ = 0;
  mutable uint16_t last_bad_avail_ = 0;
  mutable bool have_bad_avail_ = false;
  bool event_idx_ = false;
  bool signalled_valid_ = false;  // signalled_used_ holds the index at the last decision
  uint16_t signalled_used_ = 0;
  DirectionStats* stats_ = nullptr;
  DirtyLog* log_ = nullptr;
};

}  // namespace nicswitch::relay
