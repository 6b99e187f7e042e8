#include "host_relay/virtio/guest_memory.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace nicswitch::relay {
namespace {

TEST(GuestMemoryTest, TranslatesInsideRegionsAndRefusesEverythingElse) {
  std::vector<uint8_t> a(0x2000), b(0x1000);
  const uint64_t ha = reinterpret_cast<uint64_t>(a.data());
  const uint64_t hb = reinterpret_cast<uint64_t>(b.data());
  // Given out of order: the table sorts them.
  auto mem = GuestMemory::Create({{0x100000, 0x1000, hb}, {0x0, 0x2000, ha}}, IovaMode::kSim);
  ASSERT_TRUE(mem.ok()) << mem.status();
  const GuestMemory& m = **mem;
  EXPECT_EQ(m.Translate(0x10, 16), a.data() + 0x10);
  EXPECT_EQ(m.Translate(0x100ff0, 16), b.data() + 0xff0);
  EXPECT_EQ(m.Translate(0x1ff0, 16), a.data() + 0x1ff0);
  EXPECT_EQ(m.Translate(0x1ff0, 17), nullptr);                   // crosses the region's end
  EXPECT_EQ(m.Translate(0x2000, 1), nullptr);                    // the hole between regions
  EXPECT_EQ(m.Translate(0x101000, 1), nullptr);                  // past the last region
  EXPECT_EQ(m.Translate(0xfffffffffffffff0ull, 0x20), nullptr);  // wraps
  EXPECT_EQ(m.Translate(0x100000, ~uint64_t{0}), nullptr);
  EXPECT_EQ(m.Iova(0x10, 16), ha + 0x10);  // sim: IOVA is the host VA
  EXPECT_EQ(m.Iova(0x1ff0, 32), kBadIova);

  uint64_t available = 0;
  EXPECT_EQ(m.TranslatePrefix(0x1ff0, 0x100, &available), a.data() + 0x1ff0);
  EXPECT_EQ(available, 0x10u);
  EXPECT_EQ(m.TranslatePrefix(0x3000, 0x100, &available), nullptr);
  EXPECT_EQ(available, 0u);
}

// Small tables are scanned, large ones binary-searched: both must agree on every boundary.
TEST(GuestMemoryTest, ManyRegionsTranslateLikeFew) {
  constexpr uint64_t kRegion = 0x1000;
  std::vector<uint8_t> backing(20 * kRegion);
  for (const size_t count : {size_t{3}, size_t{8}, size_t{9}, size_t{20}}) {
    std::vector<GuestMemoryRegion> regions;
    for (size_t i = 0; i < count; ++i) {
      // Every other 4 KiB of guest-physical space is a hole.
      regions.push_back(
          {2 * i * kRegion, kRegion, reinterpret_cast<uint64_t>(backing.data() + i * kRegion)});
    }
    std::reverse(regions.begin(), regions.end());
    auto mem = GuestMemory::Create(regions, IovaMode::kSim);
    ASSERT_TRUE(mem.ok()) << mem.status();
    for (size_t i = 0; i < count; ++i) {
      const uint64_t gpa = 2 * i * kRegion;
      uint8_t* const host = backing.data() + i * kRegion;
      SCOPED_TRACE(absl::StrCat(count, " regions, region ", i));
      EXPECT_EQ((*mem)->Translate(gpa, kRegion), host);
      EXPECT_EQ((*mem)->Translate(gpa + kRegion - 1, 1), host + kRegion - 1);
      EXPECT_EQ((*mem)->Translate(gpa + kRegion, 1), nullptr);  // the hole after it
      EXPECT_EQ((*mem)->Translate(gpa + 1, kRegion), nullptr);  // runs into the hole
      EXPECT_EQ((*mem)->Iova(gpa + 8, 8), reinterpret_cast<uint64_t>(host + 8));
      EXPECT_EQ((*mem)->SegmentIova(gpa + 8, host + 8, 8), reinterpret_cast<uint64_t>(host + 8));
    }
    EXPECT_EQ((*mem)->Translate(2 * count * kRegion, 1), nullptr);  // past the last one
  }
}

TEST(GuestMemoryTest, RefusesOverlappingAndEmptyRegions) {
  std::vector<uint8_t> a(0x2000);
  const uint64_t ha = reinterpret_cast<uint64_t>(a.data());
  auto overlap = GuestMemory::Create({{0x0, 0x2000, ha}, {0x1000, 0x1000, ha}}, IovaMode::kVa);
  EXPECT_EQ(overlap.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(overlap.status().message().find("overlaps"), std::string::npos);
  auto empty = GuestMemory::Create({{0x0, 0, ha}}, IovaMode::kVa);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  auto no_resolver = GuestMemory::Create({{0x0, 0x1000, ha}}, IovaMode::kPa);
  EXPECT_EQ(no_resolver.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GuestMemoryTest, PaModeRefusesBuffersCrossingDiscontiguousPages) {
  constexpr uint64_t kPage = 4096;
  std::vector<uint8_t> backing(5 * kPage);
  // A page-aligned host range of 4 pages.
  const uint64_t host = (reinterpret_cast<uint64_t>(backing.data()) + kPage - 1) & ~(kPage - 1);
  // Pages 0,1 contiguous at 0x10000000; page 2 elsewhere; page 3 right after page 2.
  const uint64_t page_iova[] = {0x10000000, 0x10001000, 0x50000000, 0x50001000};
  auto resolver = [&](uint64_t va) {
    const uint64_t page = (va - host) / kPage;
    return page_iova[page] + (va - host) % kPage;
  };
  auto mem = GuestMemory::Create({{0x0, 4 * kPage, host}}, IovaMode::kPa, resolver, kPage);
  ASSERT_TRUE(mem.ok()) << mem.status();
  EXPECT_EQ((*mem)->Iova(0x100, 100), 0x10000100u);
  EXPECT_EQ((*mem)->Iova(kPage - 100, 200), 0x10000000u + kPage - 100);  // pages 0-1: contiguous
  EXPECT_EQ((*mem)->Iova(2 * kPage - 100, 200), kBadIova);               // pages 1-2: not
  EXPECT_EQ((*mem)->Iova(3 * kPage - 8, 16), 0x50001000u - 8);
  EXPECT_EQ((*mem)->Translate(2 * kPage - 100, 200),
            reinterpret_cast<uint8_t*>(host) + 2 * kPage - 100);
}

TEST(GuestMemoryTest, ParsesIovaModes) {
  EXPECT_EQ(*ParseIovaMode("va"), IovaMode::kVa);
  EXPECT_EQ(*ParseIovaMode("pa"), IovaMode::kPa);
  EXPECT_EQ(*ParseIovaMode("sim"), IovaMode::kSim);
  EXPECT_EQ(ParseIovaMode("iommu").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nicswitch::relay
