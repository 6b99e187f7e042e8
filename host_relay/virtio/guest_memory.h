#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nicswitch::relay {

// How a guest buffer's address is given to the VF for DMA.
enum class IovaMode {
  kVa,   // IOMMU: guest memory is DMA-mapped at its host VA (rte_extmem_register + dma_map).
  kPa,   // No IOMMU: per-page physical addresses; a buffer crossing non-contiguous pages is
         // not DMA-able as one range (it takes the copy path).
  kSim,  // The VF is a CPU-copying vdev: the IOVA is the host VA, nothing is registered.
};

absl::StatusOr<IovaMode> ParseIovaMode(absl::string_view text);
absl::string_view IovaModeName(IovaMode mode);

// One region of the guest's memory table as the vhost library mapped it in this process.
struct GuestMemoryRegion {
  uint64_t guest_phys_addr = 0;
  uint64_t size = 0;
  uint64_t host_addr = 0;  // where [guest_phys_addr, +size) is mapped in this process
};

inline constexpr uint64_t kBadIova = ~uint64_t{0};

// The GPA -> host VA -> IOVA table of one memory-table message. Built once (the message is
// rare), then read-only: lookups are O(log regions), lock-free, allocation-free. Every guest
// address is untrusted: a range that is not entirely inside guest memory translates to nothing.
class GuestMemory {
 public:
  // Resolves the IOVA of one host virtual address (rte_mem_virt2iova in pa mode).
  using VirtToIova = std::function<uint64_t(uint64_t host_addr)>;

  // Builds the table. Regions may come in any order; empty, overlapping (in GPA) or wrapping
  // regions are INVALID_ARGUMENT naming the region. In kPa mode `virt_to_iova` is called once
  // per `page_size` page of every region (page_size must be a power of two); a page whose IOVA
  // is kBadIova makes every buffer touching it non-DMA-able. In kVa/kSim modes IOVA == host VA.
  static absl::StatusOr<std::unique_ptr<GuestMemory>> Create(std::vector<GuestMemoryRegion> regions,
                                                             IovaMode mode,
                                                             VirtToIova virt_to_iova = nullptr,
                                                             uint64_t page_size = 4096);

  // Host address of [gpa, gpa + len) when it lies entirely inside one region; nullptr
  // otherwise (outside guest memory, crossing a region's end, or gpa + len overflowing).
  // len == 0 is treated as 1 byte (the address must still be guest memory).
  uint8_t* Translate(uint64_t gpa, uint64_t len) const;

  // The longest prefix of [gpa, gpa + len) inside one region: returns its host address and sets
  // `*available` (<= len); nullptr (and *available = 0) when gpa itself is not guest memory.
  // The copy path walks a buffer spanning adjacent regions with this.
  uint8_t* TranslatePrefix(uint64_t gpa, uint64_t len, uint64_t* available) const;

  // IOVA of [gpa, gpa + len) if it is one region and one DMA-contiguous range; kBadIova
  // otherwise. This is what may be handed to the VF.
  uint64_t Iova(uint64_t gpa, uint64_t len) const;

  // Iova() of a range already translated to `host` by Translate/TranslatePrefix (so known to
  // lie in one region): free in kVa/kSim modes, where the IOVA is the host address.
  uint64_t SegmentIova(uint64_t gpa, const uint8_t* host, uint64_t len) const {
    return mode_ == IovaMode::kPa ? Iova(gpa, len) : reinterpret_cast<uint64_t>(host);
  }

  IovaMode mode() const { return mode_; }
  const std::vector<GuestMemoryRegion>& regions() const { return regions_; }

 private:
  struct Region {
    GuestMemoryRegion r;
    std::vector<uint64_t> page_iova;  // kPa only: IOVA of each page (host-VA-aligned pages)
  };
  GuestMemory(IovaMode mode, uint64_t page_size) : mode_(mode), page_size_(page_size) {}
  const Region* Find(uint64_t gpa) const;

  IovaMode mode_;
  uint64_t page_size_;
  std::vector<GuestMemoryRegion> regions_;  // sorted by guest_phys_addr
  std::vector<Region> table_;               // same order
};

}  // namespace nicswitch::relay
