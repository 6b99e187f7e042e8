// The softasic's exact-match table on its own: insert / find / remove, duplicate and full-table
// refusals, entries reused only after FreeEntry, keys sharing a hash (overflow buckets), and
// LookupBulk agreeing with Find on mixes of hits and misses. Every test runs with keys of 1 and
// 2 words (the inline layout: key and datum in the bucket) and of 3 words (bucket + entry array).

#include "soc_agent/device/softasic_table.h"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/eal.h"
#include "tests/support/test_env.h"

namespace nicswitch::device::softasic_internal {
namespace {

using Key = std::array<uint64_t, 3>;  // the table reads the first kWords words

Key KeyOf(uint64_t i) { return Key{i, i * 7 + 1, ~i}; }

class ExactMatchTableTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(
        InitEal("softasic_table_test", testenv::TestEalArgs("softasic_table_test", {}, 256)).ok());
  }
  const uint32_t kWords = GetParam();

  uint32_t HashOf(const Key& k) const {
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (uint32_t w = 0; w < kWords; ++w) {
      h = (h ^ k[w]) * 0xff51afd7ed558ccdull;
      h ^= h >> 33;
    }
    return static_cast<uint32_t>(h);
  }
  // LookupBulk with the key size known at compile time, as the datapath calls it.
  uint32_t FixedSizeLookup(const ExactMatchTable& t, const uint64_t* const* keys,
                           const uint32_t* hashes, int n, uint64_t* data) const {
    switch (kWords) {
      case 1:
        return t.LookupBulk<1>(keys, hashes, n, data);
      case 2:
        return t.LookupBulk<2>(keys, hashes, n, data);
      default:
        return t.LookupBulk<3>(keys, hashes, n, data);
    }
  }
};

TEST_P(ExactMatchTableTest, AddFindRemoveAndReuseOnlyAfterFree) {
  auto t = ExactMatchTable::Create(64, kWords, SOCKET_ID_ANY);
  ASSERT_NE(t, nullptr);
  const Key a = KeyOf(1), b = KeyOf(2);
  const int32_t ea = t->Add(a.data(), HashOf(a), 100);
  ASSERT_GE(ea, 0);
  EXPECT_EQ(t->Add(a.data(), HashOf(a), 101), -EEXIST) << "a key is present once";
  EXPECT_EQ(t->Find(a.data(), HashOf(a)), ea);
  EXPECT_EQ(t->EntryData(ea), 100u);
  EXPECT_EQ(t->Find(b.data(), HashOf(b)), -1);

  EXPECT_EQ(t->Remove(a.data(), HashOf(a)), ea);
  EXPECT_EQ(t->Find(a.data(), HashOf(a)), -1);
  EXPECT_EQ(t->Remove(a.data(), HashOf(a)), -ENOENT);
  // Until FreeEntry (after a grace period), a removed entry stays as it was for readers that
  // may still hold it: a new key gets another entry.
  const int32_t eb = t->Add(b.data(), HashOf(b), 200);
  ASSERT_GE(eb, 0);
  EXPECT_NE(eb, ea);
  EXPECT_EQ(t->EntryData(ea), 100u);
  t->FreeEntry(ea);
  EXPECT_EQ(t->Add(a.data(), HashOf(a), 102), ea) << "freed entries are reused";
  EXPECT_EQ(t->EntryData(ea), 102u);
}

// Keys sharing one hash share one home bucket: the case where a removed slot or entry could be
// handed to a new key while a reader still compares against it. Until FreeEntry it must keep
// its key and datum, and new keys go elsewhere; after FreeEntry it is taken again.
TEST_P(ExactMatchTableTest, ARemovedSlotInTheSameBucketKeepsItsKeyUntilFreed) {
  auto t = ExactMatchTable::Create(64, kWords, SOCKET_ID_ANY);
  ASSERT_NE(t, nullptr);
  constexpr uint32_t kHash = 0x0badcafe;
  const Key a = KeyOf(1), b = KeyOf(2), c = KeyOf(3);
  const int32_t ea = t->Add(a.data(), kHash, 100);
  ASSERT_GE(ea, 0);
  ASSERT_EQ(t->Remove(a.data(), kHash), ea);
  const int32_t eb = t->Add(b.data(), kHash, 200);
  ASSERT_GE(eb, 0);
  EXPECT_NE(eb, ea);
  for (uint32_t w = 0; w < kWords; ++w) {
    EXPECT_EQ(t->EntryKey(ea)[w], a[w]) << "word " << w << " of the removed key";
  }
  EXPECT_EQ(t->EntryData(ea), 100u);
  EXPECT_EQ(t->Find(a.data(), kHash), -1);
  EXPECT_EQ(t->Find(b.data(), kHash), eb);
  t->FreeEntry(ea);
  EXPECT_EQ(t->Add(c.data(), kHash, 300), ea) << "the freed slot is taken again";
  EXPECT_EQ(t->Find(c.data(), kHash), ea);
  EXPECT_EQ(t->Find(b.data(), kHash), eb);
}

TEST_P(ExactMatchTableTest, RefusesTheKeyAfterCapacityAndTakesItAfterARemoval) {
  constexpr uint32_t kCap = 100;
  auto t = ExactMatchTable::Create(kCap, kWords, SOCKET_ID_ANY);
  ASSERT_NE(t, nullptr);
  for (uint64_t i = 0; i < kCap; ++i) {
    const Key k = KeyOf(i);
    ASSERT_GE(t->Add(k.data(), HashOf(k), i), 0) << i;
  }
  const Key extra = KeyOf(kCap);
  EXPECT_EQ(t->Add(extra.data(), HashOf(extra), 0), -ENOSPC);
  const Key first = KeyOf(0);
  const int32_t e = t->Remove(first.data(), HashOf(first));
  ASSERT_GE(e, 0);
  t->FreeEntry(e);
  EXPECT_GE(t->Add(extra.data(), HashOf(extra), 0), 0);
}

TEST_P(ExactMatchTableTest, KeysSharingOneHashSpillIntoOverflowBuckets) {
  auto t = ExactMatchTable::Create(256, kWords, SOCKET_ID_ANY);
  ASSERT_NE(t, nullptr);
  constexpr uint32_t kHash = 0x12345678;
  constexpr int kKeys = 3 * ExactMatchTable::kSlots + 2;  // three buckets' worth and more
  for (int i = 0; i < kKeys; ++i) {
    const Key k = KeyOf(i);
    ASSERT_GE(t->Add(k.data(), kHash, 1000 + i), 0) << i;
  }
  // Remove one from the middle of the chain: the others stay reachable.
  const Key gone = KeyOf(10);
  ASSERT_GE(t->Remove(gone.data(), kHash), 0);
  std::vector<const uint64_t*> ptrs;
  std::vector<uint32_t> hashes;
  std::vector<Key> keys;
  keys.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back(KeyOf(i));
  }
  for (int i = 0; i < kKeys && i < ExactMatchTable::kMaxBulk; ++i) {
    ptrs.push_back(keys[i].data());
    hashes.push_back(kHash);
  }
  uint64_t data[ExactMatchTable::kMaxBulk] = {};
  const uint32_t hits =
      t->LookupBulk(ptrs.data(), hashes.data(), static_cast<int>(ptrs.size()), data);
  for (size_t i = 0; i < ptrs.size(); ++i) {
    if (i == 10) {
      EXPECT_FALSE(hits & (1u << i));
      EXPECT_EQ(t->Find(keys[i].data(), kHash), -1);
    } else {
      ASSERT_TRUE(hits & (1u << i)) << i;
      EXPECT_EQ(data[i], 1000u + i);
    }
  }
  std::set<uint64_t> seen;
  t->ForEach([&](const uint64_t*, uint64_t d) { EXPECT_TRUE(seen.insert(d).second); });
  EXPECT_EQ(seen.size(), static_cast<size_t>(kKeys - 1));
}

TEST_P(ExactMatchTableTest, BulkLookupAgreesWithFindOnHitsAndMisses) {
  constexpr uint32_t kCap = 20000;
  auto t = ExactMatchTable::Create(kCap, kWords, SOCKET_ID_ANY);
  ASSERT_NE(t, nullptr);
  for (uint64_t i = 0; i < kCap; i += 2) {  // even keys present, odd keys absent
    const Key k = KeyOf(i);
    ASSERT_GE(t->Add(k.data(), HashOf(k), i * 3), 0) << i;
  }
  std::mt19937_64 rng(7);
  for (int round = 0; round < 500; ++round) {
    const int n = 1 + static_cast<int>(rng() % ExactMatchTable::kMaxBulk);
    std::vector<Key> keys(n);
    const uint64_t* ptrs[ExactMatchTable::kMaxBulk];
    uint32_t hashes[ExactMatchTable::kMaxBulk];
    for (int i = 0; i < n; ++i) {
      keys[i] = KeyOf(rng() % kCap);
      ptrs[i] = keys[i].data();
      hashes[i] = HashOf(keys[i]);
    }
    uint64_t data[ExactMatchTable::kMaxBulk] = {};
    const uint32_t hits = t->LookupBulk(ptrs, hashes, n, data);
    // The variant with the key size known at compile time (the datapath's 2-word keys) agrees.
    uint64_t data_fixed[ExactMatchTable::kMaxBulk] = {};
    ASSERT_EQ(FixedSizeLookup(*t, ptrs, hashes, n, data_fixed), hits);
    for (int i = 0; i < n; ++i) {
      if ((hits >> i) & 1) {
        EXPECT_EQ(data_fixed[i], data[i]);
      }
    }
    for (int i = 0; i < n; ++i) {
      const int32_t e = t->Find(ptrs[i], hashes[i]);
      ASSERT_EQ((hits >> i) & 1, e >= 0 ? 1u : 0u) << "round " << round << " key " << keys[i][0];
      if (e >= 0) {
        EXPECT_EQ(data[i], t->EntryData(e));
        EXPECT_EQ(data[i], keys[i][0] * 3);
      } else {
        EXPECT_EQ(keys[i][0] % 2, 1u);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(KeyWords, ExactMatchTableTest, ::testing::Values(1u, 2u, 3u),
                         [](const ::testing::TestParamInfo<uint32_t>& info) {
                           return std::to_string(info.param) + "Words";
                         });

}  // namespace
}  // namespace nicswitch::device::softasic_internal
