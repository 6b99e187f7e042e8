#include "host_relay/virtio/guest_memory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace nicswitch::relay {

absl::StatusOr<IovaMode> ParseIovaMode(absl::string_view text) {
  if (text == "va") {
    return IovaMode::kVa;
  }
  if (text == "pa") {
    return IovaMode::kPa;
  }
  if (text == "sim") {
    return IovaMode::kSim;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("iova mode \"", text, "\" is not one of va, pa, sim"));
}

absl::string_view IovaModeName(IovaMode mode) {
  switch (mode) {
    case IovaMode::kVa:
      return "va";
    case IovaMode::kPa:
      return "pa";
    case IovaMode::kSim:
      return "sim";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::Create(
    std::vector<GuestMemoryRegion> regions, IovaMode mode, VirtToIova virt_to_iova,
    uint64_t page_size) {
  if (mode == IovaMode::kPa) {
    if (page_size == 0 || (page_size & (page_size - 1)) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("page size ", page_size, " is not a power of two"));
    }
    if (!virt_to_iova) {
      return absl::InvalidArgumentError("iova mode pa needs a virt-to-iova resolver");
    }
  }
  std::sort(regions.begin(), regions.end(),
            [](const auto& a, const auto& b) { return a.guest_phys_addr < b.guest_phys_addr; });
  std::unique_ptr<GuestMemory> mem(new GuestMemory(mode, page_size));
  for (size_t i = 0; i < regions.size(); ++i) {
    const GuestMemoryRegion& r = regions[i];
    if (r.size == 0 || r.guest_phys_addr + r.size < r.guest_phys_addr ||
        r.host_addr + r.size < r.host_addr || r.host_addr == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "guest memory region gpa 0x", absl::Hex(r.guest_phys_addr), " size 0x", absl::Hex(r.size),
          " host 0x", absl::Hex(r.host_addr), " is empty or wraps"));
    }
    if (i > 0 && regions[i - 1].guest_phys_addr + regions[i - 1].size > r.guest_phys_addr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "guest memory region gpa 0x", absl::Hex(r.guest_phys_addr),
          " overlaps the region at gpa 0x", absl::Hex(regions[i - 1].guest_phys_addr)));
    }
    Region entry{r, {}};
    if (mode == IovaMode::kPa) {
      const uint64_t first = r.host_addr & ~(page_size - 1);
      const uint64_t last = (r.host_addr + r.size - 1) & ~(page_size - 1);
      entry.page_iova.reserve((last - first) / page_size + 1);
      for (uint64_t page = first;; page += page_size) {
        const uint64_t iova = virt_to_iova(std::max(page, r.host_addr));
        // Normalise to the IOVA of the page start (the first page may start mid-page).
        entry.page_iova.push_back(iova == kBadIova ? kBadIova
                                                   : iova - (std::max(page, r.host_addr) - page));
        if (page == last) {
          break;
        }
      }
    }
    mem->table_.push_back(std::move(entry));
  }
  mem->regions_ = std::move(regions);
  return mem;
}

const GuestMemory::Region* GuestMemory::Find(uint64_t gpa) const {
  // A VMM's table has a handful of regions (vhost-user allows 8 by default): a linear scan
  // beats a binary search there.
  if (table_.size() <= 8) {
    for (const Region& region : table_) {
      if (gpa - region.r.guest_phys_addr < region.r.size) {
        return &region;
      }
    }
    return nullptr;
  }
  // First region whose start is > gpa; the candidate is the one before it.
  auto it = std::upper_bound(table_.begin(), table_.end(), gpa,
                             [](uint64_t a, const Region& r) { return a < r.r.guest_phys_addr; });
  if (it == table_.begin()) {
    return nullptr;
  }
  --it;
  if (gpa - it->r.guest_phys_addr >= it->r.size) {
    return nullptr;
  }
  return &*it;
}

uint8_t* GuestMemory::Translate(uint64_t gpa, uint64_t len) const {
  if (len == 0) {
    len = 1;
  }
  const Region* region = Find(gpa);
  if (region == nullptr) {
    return nullptr;
  }
  const uint64_t offset = gpa - region->r.guest_phys_addr;
  if (len > region->r.size - offset) {
    return nullptr;
  }
  return reinterpret_cast<uint8_t*>(region->r.host_addr + offset);
}

uint8_t* GuestMemory::TranslatePrefix(uint64_t gpa, uint64_t len, uint64_t* available) const {
  *available = 0;
  const Region* region = Find(gpa);
  if (region == nullptr) {
    return nullptr;
  }
  const uint64_t offset = gpa - region->r.guest_phys_addr;
  *available = std::min(len, region->r.size - offset);
  return reinterpret_cast<uint8_t*>(region->r.host_addr + offset);
}

uint64_t GuestMemory::Iova(uint64_t gpa, uint64_t len) const {
  if (len == 0) {
    len = 1;
  }
  const Region* region = Find(gpa);
  if (region == nullptr) {
    return kBadIova;
  }
  const uint64_t offset = gpa - region->r.guest_phys_addr;
  if (len > region->r.size - offset) {
    return kBadIova;
  }
  const uint64_t host = region->r.host_addr + offset;
  if (mode_ != IovaMode::kPa) {
    return host;
  }
  const uint64_t base_page = region->r.host_addr & ~(page_size_ - 1);
  const uint64_t first = (host - base_page) / page_size_;
  const uint64_t last = (host + len - 1 - base_page) / page_size_;
  const uint64_t iova0 = region->page_iova[first];
  if (iova0 == kBadIova) {
    return kBadIova;
  }
  for (uint64_t p = first + 1; p <= last; ++p) {
    if (region->page_iova[p] != iova0 + (p - first) * page_size_) {
      return kBadIova;  // physically discontiguous: not one DMA range
    }
  }
  return iova0 + (host & (page_size_ - 1));
}

}  // namespace nicswitch::relay
