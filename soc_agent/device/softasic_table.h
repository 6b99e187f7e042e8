#pragma once

// ExactMatchTable: the hash table behind one softasic subtable (one (group, priority, mask)).
// Keys are compact keys of `key_words` 64-bit words; the caller supplies a 32-bit hash of the key.
//
// Layout, chosen for at most two cache misses per lookup at 1M keys:
//   - a power-of-two array of 64-byte buckets; a bucket holds 7 slots, each one 64-bit word
//     (hash << 32 | entry + 1, 0 = empty), and the index of an overflow bucket (0 = none);
//   - a separate entry array indexed from the slots: the full key and a 64-bit datum per entry,
//     padded to 32 or a multiple of 64 bytes so that an entry never straddles a cache line.
// A lookup reads one bucket (the full 32-bit hash stored in the slot filters candidates) and one
// entry (exact key compare). The bucket index is the top bits of hash * a golden-ratio constant:
// the caller's CRC is linear over GF(2), so its low bits alone can leave buckets unused when
// keys differ in few bit positions (sequential addresses); the multiplication mixes every bit.
// Overflow buckets are only visited when the home bucket is full, which the sizing (see Create)
// keeps rare.
//
// Keys of one or two words (port + IPv4 5-tuple: the agent's rules from VFs) use an inline layout
// instead: each 64-byte bucket holds two slots of key + datum and their two tags (hash | 1;
// 0 = empty), so a lookup reads a single cache line. At 1M rules the entry line was half of
// the lookup's cost (it comes from DRAM, after the bucket it depends on). Home buckets are a
// power of two >= capacity (<= 1 key per bucket on average, ~10% of keys in overflow buckets
// when full); "entry" indexes are slot handles, bucket * 2 + slot.
//
// Concurrency: one writer (the control thread) and any number of lock-free readers. A slot is
// published with a release store after its entry is written; a removed slot is cleared, and the
// entry it pointed to must not be reused until no reader can still hold it: Remove returns the
// entry index, and the caller hands it to FreeEntry after an RCU grace period. Entries are thus
// immutable while reachable, so readers never see a torn key.

#include <rte_malloc.h>
#include <rte_prefetch.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace nicswitch::device::softasic_internal {

class ExactMatchTable {
 public:
  static constexpr int kSlots = 7;
  static constexpr int kMaxBulk = 32;

  // A table for up to `capacity` keys of `key_words` words (1..20). nullptr when out of memory.
  static std::unique_ptr<ExactMatchTable> Create(uint32_t capacity, uint32_t key_words,
                                                 int socket) {
    std::unique_ptr<ExactMatchTable> t(new ExactMatchTable());
    t->capacity_ = capacity < 8 ? 8 : capacity;
    t->key_words_ = key_words;
    if (key_words <= kInlineWords) {
      return CreateInline(std::move(t), socket);
    }
    const uint32_t raw = (key_words + 1) * 8;
    t->entry_words_ = (raw <= 32 ? 32 : (raw + 63) / 64 * 64) / 8;
    // Home buckets: a power of two >= capacity / 4, so a full table averages <= 4 of 7 slots
    // per bucket (a Poisson(4) bucket overflows with p ~ 5%).
    t->SizeBuckets(t->capacity_ / 4);
    t->buckets_ = static_cast<Bucket*>(
        rte_zmalloc_socket("softasic_buckets", sizeof(Bucket) * t->total_buckets_, 64, socket));
    t->entries_ = static_cast<uint64_t*>(rte_zmalloc_socket(
        "softasic_entries", uint64_t{t->entry_words_} * 8 * t->capacity_, 64, socket));
    if (t->buckets_ == nullptr || t->entries_ == nullptr) {
      return nullptr;
    }
    t->free_entries_.resize(t->capacity_);
    for (uint32_t i = 0; i < t->capacity_; ++i) {
      t->free_entries_[i] = t->capacity_ - 1 - i;
    }
    return t;
  }
  ~ExactMatchTable() {
    rte_free(buckets_);
    rte_free(entries_);
    rte_free(inline_);
  }
  ExactMatchTable(const ExactMatchTable&) = delete;
  ExactMatchTable& operator=(const ExactMatchTable&) = delete;

  uint32_t capacity() const { return capacity_; }
  uint32_t key_words() const { return key_words_; }
  uint64_t memory_bytes() const {
    if (inline_ != nullptr) {
      return uint64_t{total_buckets_} * sizeof(InlineBucket) + removed_.size() + sizeof(*this);
    }
    return uint64_t{total_buckets_} * sizeof(Bucket) + uint64_t{capacity_} * entry_words_ * 8 +
           uint64_t{capacity_} * sizeof(uint32_t) + sizeof(*this);
  }

  // ---- writer ----

  // Inserts `key` with `data`. Returns the entry index, -EEXIST if the key is present, -ENOSPC
  // when no entry or overflow bucket is left (grow the table).
  int32_t Add(const uint64_t* key, uint32_t hash, uint64_t data) {
    if (Find(key, hash) >= 0) {
      return -EEXIST;
    }
    if (inline_ != nullptr) {
      return InlineAdd(key, hash, data);
    }
    if (free_entries_.empty()) {
      return -ENOSPC;
    }
    Bucket* b = &buckets_[Home(hash)];
    for (;;) {
      for (int s = 0; s < kSlots; ++s) {
        if (b->slots[s] == 0) {
          const uint32_t e = free_entries_.back();
          free_entries_.pop_back();
          uint64_t* entry = Entry(e);
          std::memcpy(entry, key, key_words_ * 8u);
          entry[key_words_] = data;
          __atomic_store_n(&b->slots[s], (uint64_t{hash} << 32) | (e + 1), __ATOMIC_RELEASE);
          return static_cast<int32_t>(e);
        }
      }
      if (b->next == 0) {
        if (next_overflow_ >= total_buckets_) {
          return -ENOSPC;
        }
        // Overflow buckets are zero from allocation and never returned, so this one is empty.
        __atomic_store_n(&b->next, next_overflow_ + 1, __ATOMIC_RELEASE);
        ++next_overflow_;
      }
      b = &buckets_[b->next - 1];
    }
  }

  // Unlinks `key`. Returns its entry index (pass it to FreeEntry after a grace period), or
  // -ENOENT.
  int32_t Remove(const uint64_t* key, uint32_t hash) {
    if (inline_ != nullptr) {
      return InlineRemove(key, hash);
    }
    for (Bucket* b = &buckets_[Home(hash)];; b = &buckets_[b->next - 1]) {
      for (int s = 0; s < kSlots; ++s) {
        const uint64_t slot = b->slots[s];
        if (slot != 0 && (slot >> 32) == hash &&
            KeysEqual(Entry(SlotEntry(slot)), key, key_words_)) {
          __atomic_store_n(&b->slots[s], uint64_t{0}, __ATOMIC_RELEASE);
          return static_cast<int32_t>(SlotEntry(slot));
        }
      }
      if (b->next == 0) {
        return -ENOENT;
      }
    }
  }
  // Makes a removed entry reusable. Only once no reader can hold it (after a grace period).
  void FreeEntry(int32_t entry) {
    if (inline_ != nullptr) {
      removed_[static_cast<uint32_t>(entry)] = 0;
      --used_;
      return;
    }
    free_entries_.push_back(static_cast<uint32_t>(entry));
  }

  const uint64_t* EntryKey(int32_t entry) const {
    return inline_ != nullptr ? InlineSlot(static_cast<uint32_t>(entry))
                              : Entry(static_cast<uint32_t>(entry));
  }
  uint64_t EntryData(int32_t entry) const {
    return inline_ != nullptr ? InlineSlot(static_cast<uint32_t>(entry))[kInlineWords]
                              : Entry(static_cast<uint32_t>(entry))[key_words_];
  }

  // Calls fn(const uint64_t* key, uint64_t data) for every key (writer thread).
  template <typename Fn>
  void ForEach(Fn fn) const {
    if (inline_ != nullptr) {
      for (uint32_t i = 0; i <= mask_; ++i) {
        for (const InlineBucket* b = &inline_[i];; b = &inline_[b->next - 1]) {
          for (int s = 0; s < kInlineSlots; ++s) {
            if (b->tags[s] != 0) {
              fn(b->slots[s], b->slots[s][kInlineWords]);
            }
          }
          if (b->next == 0) {
            break;
          }
        }
      }
      return;
    }
    for (uint32_t i = 0; i <= mask_; ++i) {
      for (const Bucket* b = &buckets_[i];; b = &buckets_[b->next - 1]) {
        for (int s = 0; s < kSlots; ++s) {
          if (b->slots[s] != 0) {
            const uint64_t* e = Entry(SlotEntry(b->slots[s]));
            fn(e, e[key_words_]);
          }
        }
        if (b->next == 0) {
          break;
        }
      }
    }
  }

  // ---- readers (and writer) ----

  // Entry index of `key`, or -1.
  int32_t Find(const uint64_t* key, uint32_t hash) const {
    if (inline_ != nullptr) {
      return InlineFind(key, hash);
    }
    for (const Bucket* b = &buckets_[Home(hash)];;) {
      for (int s = 0; s < kSlots; ++s) {
        const uint64_t slot = __atomic_load_n(&b->slots[s], __ATOMIC_ACQUIRE);
        if (slot != 0 && (slot >> 32) == hash &&
            KeysEqual(Entry(SlotEntry(slot)), key, key_words_)) {
          return static_cast<int32_t>(SlotEntry(slot));
        }
      }
      const uint32_t next = __atomic_load_n(&b->next, __ATOMIC_ACQUIRE);
      if (next == 0) {
        return -1;
      }
      b = &buckets_[next - 1];
    }
  }

  // Looks up n (<= kMaxBulk) keys in a pipeline that keeps each stage's cache misses in flight
  // together: all home buckets are prefetched, then scanned (prefetching each candidate entry),
  // then the keys compared. Sets data[i] for every hit; returns the bitmask of hits.
  // kWords: the table's key_words() when the caller knows it at compile time (the compares
  // unrolled), 0 otherwise.
  template <uint32_t kWords = 0>
  uint32_t LookupBulk(const uint64_t* const* keys, const uint32_t* hashes, int n,
                      uint64_t* data) const {
    const uint32_t words = kWords != 0 ? kWords : key_words_;
    if (inline_ != nullptr) {
      return InlineLookupBulk(keys, hashes, n, data, words);
    }
    const Bucket* home[kMaxBulk];
    int32_t candidate[kMaxBulk];
    for (int i = 0; i < n; ++i) {
      home[i] = &buckets_[Home(hashes[i])];
      rte_prefetch0(home[i]);
    }
    for (int i = 0; i < n; ++i) {
      candidate[i] = -1;
      const uint64_t want = hashes[i];
      for (int s = 0; s < kSlots; ++s) {
        const uint64_t slot = __atomic_load_n(&home[i]->slots[s], __ATOMIC_ACQUIRE);
        if (slot != 0 && (slot >> 32) == want) {
          candidate[i] = static_cast<int32_t>(SlotEntry(slot));
          rte_prefetch0(Entry(SlotEntry(slot)));
          break;
        }
      }
    }
    uint32_t hits = 0;
    for (int i = 0; i < n; ++i) {
      if (candidate[i] >= 0) {
        const uint64_t* e = Entry(static_cast<uint32_t>(candidate[i]));
        if (KeysEqual(e, keys[i], words)) {
          data[i] = e[words];
          hits |= 1u << i;
          continue;
        }
      } else if (__atomic_load_n(&home[i]->next, __ATOMIC_ACQUIRE) == 0) {
        continue;  // the home bucket has no candidate and no overflow: a miss
      }
      // A hash collision in the home bucket, or an overflow chain: the full walk (rare).
      const int32_t e = Find(keys[i], hashes[i]);
      if (e >= 0) {
        data[i] = EntryData(e);
        hits |= 1u << i;
      }
    }
    return hits;
  }

 private:
  static constexpr uint32_t kInlineWords = 2;
  static constexpr int kInlineSlots = 2;
  struct alignas(64) InlineBucket {
    uint32_t tags[kInlineSlots];  // hash | 1 of the slot's key, 0 = empty
    uint32_t next;                // overflow bucket index + 1, 0 = none
    uint32_t pad;
    uint64_t slots[kInlineSlots][kInlineWords + 1];  // key (unused words 0), datum
  };
  static_assert(sizeof(InlineBucket) == 64);

  // Home buckets: the smallest power of two (>= 8) holding `at_least`; overflow buckets after
  // them, a quarter as many. Both layouts.
  void SizeBuckets(uint32_t at_least) {
    uint32_t buckets = 8;
    while (buckets < at_least) {
      buckets <<= 1;
    }
    mask_ = buckets - 1;
    shift_ = static_cast<uint32_t>(32 - __builtin_ctz(buckets));
    total_buckets_ = buckets + buckets / 4;
    next_overflow_ = buckets;
  }

  static uint32_t Tag(uint32_t hash) { return hash | 1u; }
  const uint64_t* InlineSlot(uint32_t handle) const {
    return inline_[handle / kInlineSlots].slots[handle % kInlineSlots];
  }

  static std::unique_ptr<ExactMatchTable> CreateInline(std::unique_ptr<ExactMatchTable> t,
                                                       int socket) {
    t->SizeBuckets(t->capacity_);  // <= 1 key per bucket of 2 slots on average
    t->inline_ = static_cast<InlineBucket*>(rte_zmalloc_socket(
        "softasic_inline_buckets", sizeof(InlineBucket) * t->total_buckets_, 64, socket));
    if (t->inline_ == nullptr) {
      return nullptr;
    }
    t->removed_.assign(uint64_t{t->total_buckets_} * kInlineSlots, 0);
    return t;
  }

  int32_t InlineAdd(const uint64_t* key, uint32_t hash, uint64_t data) {
    if (used_ >= capacity_) {
      return -ENOSPC;
    }
    uint32_t index = Home(hash);
    for (;;) {
      InlineBucket* b = &inline_[index];
      for (int s = 0; s < kInlineSlots; ++s) {
        const uint32_t handle = index * kInlineSlots + s;
        // A removed slot keeps its key for readers until FreeEntry (after a grace period).
        if (b->tags[s] == 0 && removed_[handle] == 0) {
          b->slots[s][0] = key[0];
          b->slots[s][1] = key_words_ == 2 ? key[1] : 0;
          b->slots[s][kInlineWords] = data;
          __atomic_store_n(&b->tags[s], Tag(hash), __ATOMIC_RELEASE);
          ++used_;
          return static_cast<int32_t>(handle);
        }
      }
      if (b->next == 0) {
        if (next_overflow_ >= total_buckets_) {
          return -ENOSPC;
        }
        __atomic_store_n(&b->next, next_overflow_ + 1, __ATOMIC_RELEASE);
        ++next_overflow_;
      }
      index = b->next - 1;
    }
  }

  int32_t InlineRemove(const uint64_t* key, uint32_t hash) {
    for (uint32_t index = Home(hash);;) {
      InlineBucket* b = &inline_[index];
      for (int s = 0; s < kInlineSlots; ++s) {
        if (b->tags[s] == Tag(hash) && KeysEqual(b->slots[s], key, key_words_)) {
          __atomic_store_n(&b->tags[s], 0u, __ATOMIC_RELEASE);
          const uint32_t handle = index * kInlineSlots + s;
          removed_[handle] = 1;
          return static_cast<int32_t>(handle);
        }
      }
      if (b->next == 0) {
        return -ENOENT;
      }
      index = b->next - 1;
    }
  }

  int32_t InlineFind(const uint64_t* key, uint32_t hash) const {
    for (uint32_t index = Home(hash);;) {
      const InlineBucket* b = &inline_[index];
      for (int s = 0; s < kInlineSlots; ++s) {
        if (__atomic_load_n(&b->tags[s], __ATOMIC_ACQUIRE) == Tag(hash) &&
            KeysEqual(b->slots[s], key, key_words_)) {
          return static_cast<int32_t>(index * kInlineSlots + s);
        }
      }
      const uint32_t next = __atomic_load_n(&b->next, __ATOMIC_ACQUIRE);
      if (next == 0) {
        return -1;
      }
      index = next - 1;
    }
  }

  // One cache line per lookup: all home buckets are prefetched, then each is searched.
  uint32_t InlineLookupBulk(const uint64_t* const* keys, const uint32_t* hashes, int n,
                            uint64_t* data, uint32_t words) const {
    const InlineBucket* home[kMaxBulk];
    for (int i = 0; i < n; ++i) {
      home[i] = &inline_[Home(hashes[i])];
      rte_prefetch0(home[i]);
    }
    uint32_t hits = 0;
    for (int i = 0; i < n; ++i) {
      const InlineBucket* b = home[i];
      const uint32_t tag = Tag(hashes[i]);
      const uint32_t t0 = __atomic_load_n(&b->tags[0], __ATOMIC_ACQUIRE);
      const uint32_t t1 = __atomic_load_n(&b->tags[1], __ATOMIC_ACQUIRE);
      if (t0 == tag && KeysEqual(b->slots[0], keys[i], words)) {
        data[i] = b->slots[0][kInlineWords];
        hits |= 1u << i;
      } else if (t1 == tag && KeysEqual(b->slots[1], keys[i], words)) {
        data[i] = b->slots[1][kInlineWords];
        hits |= 1u << i;
      } else if (__atomic_load_n(&b->next, __ATOMIC_ACQUIRE) != 0) {
        const int32_t e = InlineFind(keys[i], hashes[i]);  // an overflow chain (rare)
        if (e >= 0) {
          data[i] = InlineSlot(static_cast<uint32_t>(e))[kInlineWords];
          hits |= 1u << i;
        }
      }
    }
    return hits;
  }

  struct alignas(64) Bucket {
    uint64_t slots[kSlots];
    uint32_t next;  // overflow bucket index + 1, 0 = none
    uint32_t pad;
  };
  static_assert(sizeof(Bucket) == 64);

  ExactMatchTable() = default;

  uint32_t Home(uint32_t hash) const { return (hash * 0x9e3779b1u) >> shift_; }
  static uint32_t SlotEntry(uint64_t slot) { return static_cast<uint32_t>(slot) - 1; }
  uint64_t* Entry(uint32_t e) const { return entries_ + uint64_t{e} * entry_words_; }
  // Inlined: with `words` a constant (LookupBulk<N>) the loop unrolls.
  static bool KeysEqual(const uint64_t* a, const uint64_t* b, uint32_t words) {
    uint64_t diff = 0;
    for (uint32_t w = 0; w < words; ++w) {
      diff |= a[w] ^ b[w];
    }
    return diff == 0;
  }

  uint32_t capacity_ = 0;
  uint32_t key_words_ = 0;
  uint32_t entry_words_ = 0;
  uint32_t mask_ = 0;
  uint32_t shift_ = 0;
  uint32_t total_buckets_ = 0;
  uint32_t next_overflow_ = 0;
  Bucket* buckets_ = nullptr;
  uint64_t* entries_ = nullptr;
  std::vector<uint32_t> free_entries_;  // writer only
  // Inline layout (key_words <= 2): its buckets; per slot handle, 1 while removed and not yet
  // freed (writer only); slots in use or awaiting FreeEntry.
  InlineBucket* inline_ = nullptr;
  std::vector<uint8_t> removed_;
  uint32_t used_ = 0;
};

}  // namespace nicswitch::device::softasic_internal
