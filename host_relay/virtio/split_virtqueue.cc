#include "host_relay/virtio/split_virtqueue.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "host_relay/virtio/prefetch.h"

namespace nicswitch::relay {
namespace {

// A descriptor as read (once) from guest memory.
struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

// Reads a 16-byte descriptor with two volatile loads, so the compiler cannot re-read a
// guest-writable field after it was validated.
Desc ReadDesc(const uint8_t* table, uint32_t index) {
  const volatile uint64_t* p = reinterpret_cast<const volatile uint64_t*>(table + 16 * index);
  const uint64_t w0 = p[0];
  const uint64_t w1 = p[1];
  return Desc{w0, static_cast<uint32_t>(w1), static_cast<uint16_t>(w1 >> 32),
              static_cast<uint16_t>(w1 >> 48)};
}

uint16_t LoadU16(const uint8_t* p) { return *reinterpret_cast<const volatile uint16_t*>(p); }

}  // namespace

absl::StatusOr<std::unique_ptr<SplitVirtqueue>> SplitVirtqueue::Create(
    const VringAddresses& rings, const GuestMemory* memory, bool device_writes,
    uint16_t last_avail_idx, uint16_t last_used_idx, DirectionStats* stats) {
  if (rings.size == 0 || rings.size > kMaxQueueSize || (rings.size & (rings.size - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("virtqueue size ", rings.size, " is not a power of two in [1, 32768]"));
  }
  if (rings.desc == nullptr || rings.avail == nullptr || rings.used == nullptr) {
    return absl::InvalidArgumentError("virtqueue ring address is not mapped");
  }
  std::unique_ptr<SplitVirtqueue> q(new SplitVirtqueue());
  q->desc_ = static_cast<const uint8_t*>(rings.desc);
  q->avail_ = static_cast<uint8_t*>(rings.avail);
  q->used_ = static_cast<uint8_t*>(rings.used);
  q->size_ = rings.size;
  q->memory_ = memory;
  q->device_writes_ = device_writes;
  q->last_avail_ = last_avail_idx;
  q->avail_shadow_ = last_avail_idx;
  q->used_shadow_ = last_used_idx;
  q->used_published_ = last_used_idx;
  q->stats_ = stats;
  return q;
}

uint16_t SplitVirtqueue::LoadAvailIdx() const {
  return __atomic_load_n(reinterpret_cast<const uint16_t*>(avail_ + 2), __ATOMIC_ACQUIRE);
}

uint16_t SplitVirtqueue::Pending() const {
  const uint16_t avail_idx = LoadAvailIdx();
  const uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_);
  if (pending > size_) {
    if (!have_bad_avail_ || last_bad_avail_ != avail_idx) {
      have_bad_avail_ = true;
      last_bad_avail_ = avail_idx;
      stats_->Drop(DropReason::kAvailIndexJump);
    }
    avail_shadow_ = last_avail_;
    return 0;
  }
  avail_shadow_ = avail_idx;  // validated: entries up to here may be taken without re-reading
  return pending;
}

SplitVirtqueue::PopStatus SplitVirtqueue::Pop(DescriptorChain* chain) {
  // The avail index is a cache line the guest keeps writing: read it only when the validated
  // copy says the ring is empty.
  if (avail_shadow_ == last_avail_ && Pending() == 0) {
    return PopStatus::kEmpty;
  }
  const uint16_t head = LoadU16(avail_ + 4 + 2 * (last_avail_ & (size_ - 1)));
  ++last_avail_;
  if (head >= size_) {
    stats_->Drop(DropReason::kHeadOutOfRange);
    return PopStatus::kRefused;  // no valid id to return to the guest
  }
  const DropReason reason = Walk(head, chain);
  if (reason != DropReason::kCount) {
    stats_->Drop(reason);
    PushUsed(head, 0);
    return PopStatus::kRefused;
  }
  return PopStatus::kOk;
}

DropReason SplitVirtqueue::Walk(uint16_t head, DescriptorChain* chain) const {
  chain->head = head;
  chain->num_segments = 0;
  chain->total_len = 0;
  chain->indirect = false;
  {
    // The common case, one direct descriptor inside one memory region, without the loop.
    // Anything else takes the general walk below, which reads the descriptor again and
    // validates that read on its own (nothing of this read is used then).
    const Desc d = ReadDesc(desc_, head);
    if ((d.flags & (kDescFlagNext | kDescFlagIndirect)) == 0 &&
        ((d.flags & kDescFlagWrite) != 0) == device_writes_ && d.len > 0) {
      uint64_t available = 0;
      uint8_t* host = memory_->TranslatePrefix(d.addr, d.len, &available);
      if (host != nullptr && available == d.len) {
        chain->segments[0] = BufferSegment{d.addr, host, d.len};
        chain->num_segments = 1;
        chain->total_len = d.len;
        return DropReason::kCount;
      }
    }
  }
  const uint8_t* table = desc_;
  uint32_t table_size = size_;
  uint32_t index = head;
  uint32_t visited = 0;
  uint64_t total = 0;
  for (;;) {
    if (visited >= table_size) {
      return DropReason::kChainTooLong;  // more descriptors than the table holds: a loop
    }
    const Desc d = ReadDesc(table, index);
    ++visited;
    if (d.flags & kDescFlagIndirect) {
      // Only a chain's sole descriptor may point at an indirect table, and tables do not nest.
      if (chain->indirect || visited != 1 || (d.flags & kDescFlagNext)) {
        return DropReason::kBadIndirect;
      }
      if (d.len == 0 || d.len % 16 != 0 || d.len / 16 > kMaxQueueSize) {
        return DropReason::kBadIndirect;
      }
      const uint8_t* indirect = memory_->Translate(d.addr, d.len);
      if (indirect == nullptr) {
        return DropReason::kOutsideGuestMemory;
      }
      chain->indirect = true;
      table = indirect;
      table_size = d.len / 16;
      index = 0;
      visited = 0;
      continue;
    }
    if (((d.flags & kDescFlagWrite) != 0) != device_writes_) {
      return DropReason::kWrongDirection;
    }
    total += d.len;
    if (total > UINT32_MAX) {
      return DropReason::kLengthOverflow;
    }
    // Split the buffer where it crosses guest memory regions.
    uint64_t gpa = d.addr;
    uint64_t left = d.len;
    while (left > 0) {
      uint64_t available = 0;
      uint8_t* host = memory_->TranslatePrefix(gpa, left, &available);
      if (host == nullptr || available == 0) {
        return DropReason::kOutsideGuestMemory;
      }
      if (chain->num_segments == kMaxChainSegments) {
        return DropReason::kChainTooLong;
      }
      chain->segments[chain->num_segments++] =
          BufferSegment{gpa, host, static_cast<uint32_t>(available)};
      gpa += available;
      left -= available;
      if (left > 0 && gpa == 0) {
        return DropReason::kOutsideGuestMemory;  // wrapped around the address space
      }
    }
    if (!(d.flags & kDescFlagNext)) {
      break;
    }
    if (d.next >= table_size) {
      return DropReason::kNextOutOfRange;
    }
    index = d.next;
  }
  chain->total_len = static_cast<uint32_t>(total);
  return DropReason::kCount;
}

void SplitVirtqueue::PushUsed(uint16_t head, uint32_t len) {
  uint8_t* entry = used_ + 4 + 8 * (used_shadow_ & (size_ - 1));
  const uint32_t id = head;
  std::memcpy(entry, &id, 4);
  std::memcpy(entry + 4, &len, 4);
  ++used_shadow_;
}

void SplitVirtqueue::PrefetchAvail(uint16_t n) const {
  const uint16_t ready = static_cast<uint16_t>(avail_shadow_ - last_avail_);
  const uint16_t end = n < ready ? n : ready;
  for (uint16_t i = 0; i < end; ++i) {
    // A hint only: the head is the guest's and is validated when popped; masked, it stays
    // inside the descriptor table.
    const uint16_t head = LoadU16(avail_ + 4 + 2 * ((last_avail_ + i) & (size_ - 1)));
    PrefetchForRead(desc_ + 16 * (head & (size_ - 1)));
  }
}

uint16_t SplitVirtqueue::FlushUsed() {
  const uint16_t n = static_cast<uint16_t>(used_shadow_ - used_published_);
  if (n == 0) {
    return 0;
  }
  if (log_ != nullptr) {
    const uint32_t first = used_published_ & (size_ - 1);
    if (first + n <= size_) {
      log_->UsedWritten(4 + 8 * first, 8 * n);
    } else {
      log_->UsedWritten(4 + 8 * first, 8 * (size_ - first));
      log_->UsedWritten(4, 8 * (first + n - size_));
    }
  }
  __atomic_store_n(reinterpret_cast<uint16_t*>(used_ + 2), used_shadow_, __ATOMIC_RELEASE);
  used_published_ = used_shadow_;
  if (log_ != nullptr) {
    log_->UsedWritten(2, 2);
  }
  return n;
}

void SplitVirtqueue::Rewind(uint16_t last_avail_idx, uint16_t used_shadow_idx) {
  last_avail_ = last_avail_idx;
  avail_shadow_ = last_avail_idx;  // re-read (and re-validate) on the next Pop
  used_shadow_ = used_shadow_idx;
}

bool SplitVirtqueue::GuestWantsInterrupt() {
  // The used index store (FlushUsed) must be visible before the guest's flags or used_event
  // are read: otherwise a guest that re-enables interrupts and then checks the used index
  // can miss both this update and its interrupt, and stall.
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (!event_idx_) {
    return (__atomic_load_n(reinterpret_cast<const uint16_t*>(avail_), __ATOMIC_ACQUIRE) &
            kAvailFlagNoInterrupt) == 0;
  }
  // used_event sits after the avail ring's entries.
  const uint16_t event =
      __atomic_load_n(reinterpret_cast<const uint16_t*>(avail_ + 4 + 2 * size_), __ATOMIC_ACQUIRE);
  const uint16_t old_idx = signalled_used_;
  const uint16_t new_idx = used_published_;
  const bool valid = signalled_valid_;
  signalled_used_ = new_idx;
  signalled_valid_ = true;
  if (!valid) {
    return true;  // nothing known about what the guest has seen: interrupt once
  }
  // vring_need_event: the guest asked to be interrupted once the used index passes `event`.
  return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

void SplitVirtqueue::SetKickWanted(bool wanted) {
  if (event_idx_) {
    if (wanted) {
      // avail_event sits after the used ring's entries.
      __atomic_store_n(reinterpret_cast<uint16_t*>(used_ + 4 + 8 * size_), last_avail_,
                       __ATOMIC_RELEASE);
      if (log_ != nullptr) {
        log_->UsedWritten(4 + 8 * size_, 2);
      }
    }
  } else {
    __atomic_store_n(reinterpret_cast<uint16_t*>(used_), wanted ? 0 : kUsedFlagNoNotify,
                     __ATOMIC_RELEASE);
  }
  __atomic_thread_fence(__ATOMIC_SEQ_CST);  // visible before avail is re-checked
}

}  // namespace nicswitch::relay
