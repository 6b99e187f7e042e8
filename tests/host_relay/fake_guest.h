#pragma once

// A guest driver's side of one split virtqueue over a plain heap allocation that plays the
// guest's memory, for tests and the fuzz target. Everything is at guest physical address
// kGuestBase + offset; the allocation is exactly the guest memory, so ASan flags any access
// the relay makes outside it.

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "host_relay/virtio/guest_memory.h"
#include "host_relay/virtio/split_virtqueue.h"

namespace nicswitch::relay::testing {

class FakeGuestQueue {
 public:
  static constexpr uint64_t kGuestBase = 0x40000000;

  FakeGuestQueue(uint16_t size, size_t buffer_area)
      : size_(size),
        used_off_((size * 16 + 6 + 2 * size + 4095) & ~size_t{4095}),
        buf_off_(used_off_ + ((6 + 8 * size + 4095) & ~size_t{4095})),
        bytes_(buf_off_ + buffer_area),
        mem_(new uint8_t[bytes_]()) {
    auto m = GuestMemory::Create({{kGuestBase, bytes_, reinterpret_cast<uint64_t>(mem_.get())}},
                                 IovaMode::kSim);
    memory_ = std::move(m).value();
  }

  const GuestMemory* memory() const { return memory_.get(); }
  VringAddresses rings() const {
    return VringAddresses{mem_.get(), mem_.get() + size_ * 16, mem_.get() + used_off_, size_};
  }
  uint64_t buffer_gpa(size_t offset = 0) const { return kGuestBase + buf_off_ + offset; }
  uint8_t* host(uint64_t gpa) { return mem_.get() + (gpa - kGuestBase); }
  size_t bytes() const { return bytes_; }

  void SetDesc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t* d = mem_.get() + 16 * i;
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
  }
  // Writes a descriptor into an indirect table at guest address `table_gpa`.
  void SetIndirectDesc(uint64_t table_gpa, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
                       uint16_t next) {
    uint8_t* d = host(table_gpa) + 16 * i;
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
  }
  // Makes `head` available (avail ring slot avail_idx % size, then avail_idx + 1).
  void MakeAvailable(uint16_t head) {
    uint8_t* avail = mem_.get() + size_ * 16;
    std::memcpy(avail + 4 + 2 * (avail_idx_ % size_), &head, 2);
    ++avail_idx_;
    std::memcpy(avail + 2, &avail_idx_, 2);
  }
  void SetAvailIdx(uint16_t idx) {
    avail_idx_ = idx;
    std::memcpy(mem_.get() + size_ * 16 + 2, &avail_idx_, 2);
  }
  void SetAvailFlags(uint16_t flags) { std::memcpy(mem_.get() + size_ * 16, &flags, 2); }
  // EVENT_IDX: used_event (after the avail ring's entries), written by the driver;
  // avail_event (after the used ring's entries), written by the device.
  void SetUsedEvent(uint16_t idx) { std::memcpy(mem_.get() + size_ * 16 + 4 + 2 * size_, &idx, 2); }
  uint16_t avail_event() const {
    uint16_t v;
    std::memcpy(&v, mem_.get() + used_off_ + 4 + 8 * size_, 2);
    return v;
  }
  uint16_t used_idx() const {
    uint16_t v;
    std::memcpy(&v, mem_.get() + used_off_ + 2, 2);
    return v;
  }
  // Used entry `i` (ring slot i % size): {id, len}.
  std::pair<uint32_t, uint32_t> used(uint16_t i) const {
    uint32_t id, len;
    const uint8_t* e = mem_.get() + used_off_ + 4 + 8 * (i % size_);
    std::memcpy(&id, e, 4);
    std::memcpy(&len, e + 4, 4);
    return {id, len};
  }

 private:
  uint16_t size_;
  size_t used_off_;
  size_t buf_off_;
  size_t bytes_;
  std::unique_ptr<uint8_t[]> mem_;
  std::unique_ptr<GuestMemory> memory_;
  uint16_t avail_idx_ = 0;
};

}  // namespace nicswitch::relay::testing
