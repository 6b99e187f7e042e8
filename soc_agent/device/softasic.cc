#include "soc_agent/device/softasic.h"

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf_dyn.h>
#include <rte_meter.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_spinlock.h>
#include <rte_telemetry.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
#endif

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "flowrules/rte_flow.h"
#include "soc_agent/device/flow_key.h"
#include "soc_agent/device/softasic_internal.h"
#include "soc_agent/device/softasic_table.h"

namespace nicswitch::device {

using softasic_internal::ActionProgram;
using softasic_internal::CompileContext;
using softasic_internal::CompiledFlow;
using softasic_internal::ExactMatchTable;
using softasic_internal::ExtractKey;
using softasic_internal::Fate;
using softasic_internal::FlowKey;
using softasic_internal::kKeyWords;
using softasic_internal::Op;
using softasic_internal::PacketLayout;

namespace {

constexpr uint16_t kBurst = 32;
constexpr int kMaxJumps = 8;  // a packet jumping more often is dropped (a loop of JUMP rules)
// A subtable entry's datum: rule id (bits 0-31), the rule's program index (bits 32-61) and
// whether its program reads/writes the per-rule stats (COUNT, AGE), so the datapath prefetches
// those only for rules that use them.
constexpr uint64_t kMissData = ~uint64_t{0};
constexpr uint64_t kUsesRuleStats = uint64_t{1} << 62;
constexpr uint64_t kProgramIndexMask = (uint64_t{1} << 30) - 1;
inline uint32_t DataRule(uint64_t data) { return static_cast<uint32_t>(data); }
inline uint32_t DataProgram(uint64_t data) {
  return static_cast<uint32_t>((data >> 32) & kProgramIndexMask);
}
constexpr uint32_t kFirstSubtableCapacity = 1024;

// Per rule, per datapath thread. Written only by its thread (relaxed stores), read by control.
struct alignas(8) RuleStats {
  uint64_t packets;
  uint64_t bytes;
  uint64_t last_hit_tsc;
};

struct RuleEntry {
  const ActionProgram* program;
  int32_t position;  // key position in the subtable's hash
  uint16_t subtable;
  uint8_t live;
  uint8_t pad;
};
static_assert(sizeof(RuleEntry) == 16);

struct Subtable {
  ExactMatchTable* table = nullptr;
  uint32_t group = 0;
  uint32_t priority = 0;
  uint32_t capacity = 0;
  uint32_t count = 0;  // control thread only
  uint16_t id = 0;
  uint8_t nwords = 0;
  uint8_t words[kKeyWords] = {};
  uint64_t cmask[kKeyWords] = {};  // compact mask, cmask[i] applies to key word words[i]
};

// Immutable view of the classifier published to the datapath.
struct Snapshot {
  struct Group {
    uint32_t group;
    std::vector<const Subtable*> subtables;  // by priority, lowest value first
  };
  std::vector<Group> groups;  // by group id
  const Group* Find(uint32_t group) const {
    auto it = std::lower_bound(groups.begin(), groups.end(), group,
                               [](const Group& g, uint32_t id) { return g.group < id; });
    return it != groups.end() && it->group == group ? &*it : nullptr;
  }
};

// A two-rate three-colour meter (RFC 2698, colour blind) that any number of datapath lcores
// colour with at once. rte_meter's trTCM is single-writer (its token counts and timestamp are
// updated without atomics), so a meter shared by rules whose traffic arrives on different
// lcores would over- or under-pass. Splitting the tokens per lcore instead would give a
// vNIC whose traffic lands on one lcore only its share of the rate. So each bucket is kept in
// its GCRA form: one 64-bit "theoretical arrival time" (TAT), updated with a compare-and-swap.
// A bucket of rate r and depth D holds D - r * max(0, TAT - t) tokens at time t; a packet of L
// bytes conforms iff max(TAT, t) + L / r - t <= D / r, and then TAT = max(TAT, t) + L / r. This
// is the token bucket exactly (buckets start full, as rte_meter's), with no lock.
// Times are in ticks of 1/16 TSC cycle since the meter's creation; L / r uses a 32.32
// fixed-point cost per byte.
constexpr int kMeterTickShift = 4;
struct alignas(64) MeterSlot {
  uint64_t tat_p;  // shared: CAS-updated by every lcore colouring with this meter
  uint64_t tat_c;
  // Immutable while the meter exists.
  uint64_t base_tsc;
  uint64_t cost_p;  // ticks per byte, 32.32 fixed point
  uint64_t cost_c;
  uint64_t depth_p;  // bucket depth in ticks
  uint64_t depth_c;
};

// Per meter, per datapath thread (written only by that thread).
struct MeterCounters {
  uint64_t green;
  uint64_t yellow;
  uint64_t red;
};

uint64_t MeterCost(uint64_t hz, uint64_t bytes_per_second) {
  const unsigned __int128 cost =
      (static_cast<unsigned __int128>(hz) << (kMeterTickShift + 32)) / bytes_per_second;
  return cost > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(cost);
}
uint64_t MeterTicks(uint64_t bytes, uint64_t cost) {
  const unsigned __int128 ticks = (static_cast<unsigned __int128>(bytes) * cost) >> 32;
  return ticks > (uint64_t{1} << 62) ? uint64_t{1} << 62 : static_cast<uint64_t>(ticks);
}

// Debits `len` bytes from the bucket (tat, cost, depth) at time `now` (ticks) if they conform.
inline bool MeterConforms(uint64_t* tat, uint64_t cost, uint64_t depth, uint64_t now,
                          uint32_t len) {
  const uint64_t inc = MeterTicks(len, cost);
  if (inc > depth) {
    return false;
  }
  uint64_t seen = __atomic_load_n(tat, __ATOMIC_RELAXED);
  for (;;) {
    const uint64_t start = std::max(seen, now);
    if (start - now > depth - inc) {
      return false;
    }
    if (__atomic_compare_exchange_n(tat, &seen, start + inc, /*weak=*/true, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
      return true;
    }
  }
}

inline rte_color MeterColour(MeterSlot& ms, uint64_t tsc, uint32_t len) {
  const int64_t since = static_cast<int64_t>(tsc - ms.base_tsc);
  const uint64_t now = since < 0 ? 0 : static_cast<uint64_t>(since) << kMeterTickShift;
  if (!MeterConforms(&ms.tat_p, ms.cost_p, ms.depth_p, now, len)) {
    return RTE_COLOR_RED;
  }
  if (!MeterConforms(&ms.tat_c, ms.cost_c, ms.depth_c, now, len)) {
    return RTE_COLOR_YELLOW;
  }
  return RTE_COLOR_GREEN;
}

struct PortCounters {
  uint64_t rx;
  uint64_t tx;
  uint64_t drops;
  uint64_t misses;
  uint64_t from_representor;
};

inline void Add(uint64_t& counter, uint64_t n) {
  __atomic_store_n(&counter, counter + n, __ATOMIC_RELAXED);
}
inline uint64_t Load(const uint64_t& counter) {
  return __atomic_load_n(&counter, __ATOMIC_RELAXED);
}

uint16_t FoldSum(uint32_t sum) {
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(sum);
}

// Copies an encap template (<= kMaxEncap bytes) with fixed-size moves instead of a memcpy call
// of a variable length: two overlapping 32-byte halves cover every size from 32 to 64 bytes
// (VXLAN over IPv4 is 50 bytes, over IPv6 70).
inline void CopyEncapTemplate(uint8_t* dst, const uint8_t* src, uint16_t size) {
  if (size >= 32 && size <= 64) {
    std::memcpy(dst, src, 32);
    std::memcpy(dst + size - 32, src + size - 32, 32);
  } else if (size > 64 && size <= 128) {
    std::memcpy(dst, src, 64);
    std::memcpy(dst + size - 64, src + size - 64, 64);
  } else {
    std::memcpy(dst, src, size);
  }
}

// The instance the telemetry command reports on. The telemetry thread holds the mutex while it
// uses the instance; the destructor takes it to unpublish, so an instance never dies mid-report.
absl::Mutex g_telemetry_mu(absl::kConstInit);
SoftAsic::Impl* g_telemetry_instance ABSL_GUARDED_BY(g_telemetry_mu) = nullptr;

// CRC32-C of one 8-byte word. The intrinsic keeps the operand in a register (DPDK's inline asm
// goes through memory, a store-forwarding round trip per word on the lookup path).
// arm64 (the SoC) has the same CRC32-C instruction; elsewhere DPDK's portable version.
inline uint32_t Crc8(uint64_t word, uint32_t init) {
#if defined(__x86_64__)
  return static_cast<uint32_t>(_mm_crc32_u64(init, word));
#elif defined(__ARM_FEATURE_CRC32)
  return __crc32cd(init, word);
#else
  return rte_hash_crc_8byte(word, init);
#endif
}

// The subtable hash: CRC32-C over the compact key's 8-byte words, from this seed.
constexpr uint32_t kHashInit = 0x9e3779b9u;

}  // namespace

class SoftAsic::Impl {
 public:
  explicit Impl(const SoftAsicConfig& config) : config_(config) { port_index_.fill(-1); }
  ~Impl();

  absl::Status Init();
  absl::Status Start();
  void Stop();

  absl::StatusOr<uint32_t> CreateFlow(uint16_t port_id, const rte_flow_attr& attr,
                                      const rte_flow_item* pattern, const rte_flow_action* actions,
                                      bool install);
  // A batch of flowrules::Rule, each compiled directly (CompileRuleDirect) or, when that does
  // not cover it, through flowrules' rte_flow arrays and CreateFlow's compiler.
  std::vector<absl::StatusOr<uint32_t>> CreateRules(absl::Span<const flowrules::Rule* const> rules);
  absl::Status DestroyFlow(uint32_t rule_id);
  absl::StatusOr<SoftAsicFlowCounters> QueryFlow(uint32_t rule_id) const;
  std::vector<uint32_t> CollectAgedFlows();
  absl::Status CreateMeter(uint32_t meter_id, const MeterProfile& profile);
  absl::Status DestroyMeter(uint32_t meter_id);
  absl::StatusOr<MeterStats> QueryMeter(uint32_t meter_id) const;
  SoftAsicPortStats PortStats(int port_index) const;
  SoftAsicTableStats TableStats() const;
  std::vector<SoftAsicLcoreStats> LcoreStats() const;
  uint32_t PollOnce();
  void ProcessBurstFromCaller(uint16_t port_index, rte_mbuf** pkts, uint16_t n);
  void Reclaim(bool wait);

  const std::vector<PortInfo>& ports() const { return ports_; }

  // Serialises control operations with the telemetry thread. Never taken by the datapath.
  absl::Mutex control_mu_;
  int PortIndex(uint16_t port_id) const {
    return port_id < RTE_MAX_ETHPORTS ? port_index_[port_id] : -1;
  }

 private:
  struct Port {
    uint16_t ethdev = 0;
    // With several datapath lcores, any of them may transmit on the port (a rule's output port
    // is polled by another lcore), and a TX queue is single-writer: they take turns, per burst.
    rte_spinlock_t tx_lock = RTE_SPINLOCK_INITIALIZER;
    uint16_t representor = 0;
    bool probed = false;
    bool started = false;
    bool rep_started = false;
    std::string probed_name;
    std::vector<rte_ring*> rep_rx;  // datapath -> agent, one per representor queue
    rte_ring* rep_tx = nullptr;     // agent -> datapath
  };
  // Per datapath thread: counters and output buffers.
  struct Thread {
    RuleStats* rule_stats = nullptr;
    MeterCounters* meter_stats = nullptr;  // [max_meters]
    std::vector<PortCounters> ports;
    // Output buffers, flushed at the end of every burst.
    std::vector<rte_mbuf*> tx;   // [port][kBurst]
    std::vector<uint16_t> tx_n;  // [port]
    std::vector<rte_mbuf*> rep;  // [port * queues + q][kBurst]
    std::vector<uint16_t> rep_n;
    std::vector<uint32_t> dirty_tx;
    std::vector<uint32_t> dirty_rep;
    uint64_t busy_cycles = 0;  // config_.record_busy_cycles
    uint64_t busy_packets = 0;
  };

  absl::Status SetUpPort(const SoftAsicPortConfig& pc, PortRole role, int vf_index);
  absl::Status StartEthdev(uint16_t port_id, uint16_t rx_queues, rte_ring* const* rx_rings);
  int LaunchedThread(unsigned lcore) const;
  static int LcoreMain(void* arg);
  void RunThread(uint32_t slot);
  uint32_t PollPort(uint32_t slot, uint32_t port);
  void ProcessPackets(uint32_t slot, uint16_t in_port, rte_mbuf** pkts, uint16_t n);
  void Classify(const Snapshot::Group& group, const FlowKey* keys, const uint8_t* idx, uint16_t n,
                uint64_t* rule_out) const;
  // Pushes the program's encap headers in front of `m` with lengths and checksums; false when
  // the headroom is short (m dropped, counted on in_port).
  __attribute__((always_inline)) inline bool PushEncap(Thread& t, rte_mbuf* m,
                                                       const ActionProgram& prog, uint16_t in_port);
  // Runs a rule's non-fate ops. Returns false when the packet was dropped (freed).
  bool RunOps(Thread& t, uint32_t rule, const ActionProgram& prog, rte_mbuf*& m, FlowKey& key,
              PacketLayout& layout, uint64_t now, uint16_t in_port);
  __attribute__((always_inline)) inline void Emit(Thread& t, rte_mbuf* m, const ActionProgram& prog,
                                                  uint16_t in_port);
  void EmitMiss(Thread& t, rte_mbuf* m, uint16_t in_port);
  void Flush(Thread& t);
  // Transmits on port `port`'s TX queue; serialised per burst when several lcores run.
  uint16_t TxBurst(uint32_t port, rte_mbuf** pkts, uint16_t n) {
    Port& p = port_state_[port];
    if (num_slots_ == 1) {
      return rte_eth_tx_burst(p.ethdev, 0, pkts, n);
    }
    rte_spinlock_lock(&p.tx_lock);
    const uint16_t sent = rte_eth_tx_burst(p.ethdev, 0, pkts, n);
    rte_spinlock_unlock(&p.tx_lock);
    return sent;
  }

  // Installs a compiled flow (the second half of CreateFlow).
  absl::StatusOr<uint32_t> Insert(const CompiledFlow& flow);
  CompileContext MakeCompileContext();
  absl::StatusOr<Subtable*> FindOrAddSubtable(const CompiledFlow& flow, bool* created);
  absl::Status GrowSubtable(Subtable* st);
  void PublishSnapshot();
  // Returns the shared copy of `program` and its index in program_table_.
  std::pair<const ActionProgram*, uint32_t> InternProgram(const ActionProgram& program);
  void ReleaseProgram(const ActionProgram* program);
  void Defer(std::function<void()> fn);
  // Writes `st`'s compact key of `key` (the words its mask touches, masked) to `out` and
  // returns its hash, in one pass. kWords: st.nwords when the caller knows it at compile time
  // (the datapath's 2-word keys: the loop unrolls), 0 otherwise.
  template <int kWords = 0>
  static uint32_t CompactKey(const Subtable& st, const FlowKey& key, uint64_t* out) {
    const int nwords = kWords != 0 ? kWords : st.nwords;
    uint32_t h = kHashInit;
    for (int i = 0; i < nwords; ++i) {
      out[i] = key.w[st.words[i]] & st.cmask[i];
      h = Crc8(out[i], h);
    }
    return h;
  }
  // Looks the pending packets (bits of `pending`, indexes into `idx`) up in `st`: hit b of the
  // result is packet idx[map[b]], its datum data[b].
  template <int kWords>
  __attribute__((always_inline)) static uint32_t LookupPending(const Subtable& st,
                                                               const FlowKey* keys,
                                                               const uint8_t* idx, uint32_t pending,
                                                               uint8_t* map, uint64_t* data) {
    uint64_t ck[kBurst][kKeyWords];
    const uint64_t* key_ptrs[kBurst];
    uint32_t hashes[kBurst];
    int k = 0;
    for (uint32_t bits = pending; bits != 0; bits &= bits - 1) {
      const int j = __builtin_ctz(bits);
      hashes[k] = CompactKey<kWords>(st, keys[idx[j]], ck[k]);
      key_ptrs[k] = ck[k];
      map[k] = static_cast<uint8_t>(j);
      ++k;
    }
    return st.table->LookupBulk<kWords>(key_ptrs, hashes, k, data);
  }
  static uint32_t HashKey(const Subtable& st, const uint64_t* ck) {
    uint32_t h = kHashInit;
    for (int i = 0; i < st.nwords; ++i) {
      h = Crc8(ck[i], h);
    }
    return h;
  }

  static int TelemetryCallback(const char* cmd, const char* params, rte_tel_data* d);

  SoftAsicConfig config_;
  std::vector<PortInfo> ports_;
  std::vector<Port> port_state_;
  std::array<int16_t, RTE_MAX_ETHPORTS> port_index_;
  rte_mempool* pool_ = nullptr;
  uint64_t ts_flag_ = 0;
  int ts_offset_ = -1;

  // Datapath threads (slots). Slot i runs on datapath_lcores[i]; with no lcores, slot 0 is the
  // PollOnce/ProcessBurst caller.
  uint32_t num_slots_ = 1;
  std::vector<Thread> threads_;
  rte_rcu_qsbr* rcu_ = nullptr;
  std::atomic<bool> stop_{false};
  bool running_ = false;
  // Slot 0 is registered with the RCU for PollOnce/ProcessBurst callers (once, not per call:
  // registering is a library call and an atomic on every pass); online only during a call.
  bool caller_registered_ = false;
  void CallerOnline() {
    if (!caller_registered_) {
      rte_rcu_qsbr_thread_register(rcu_, 0);
      caller_registered_ = true;
    }
    rte_rcu_qsbr_thread_online(rcu_, 0);
  }

  // Rules.
  RuleEntry* rules_ = nullptr;
  std::vector<uint32_t> free_rules_;
  uint32_t live_rules_ = 0;
  struct AgeState {
    uint32_t rule;
    bool reported;
    uint64_t created_tsc;
  };
  // Rules with AGE, dense (no allocation per insert); aging_slot_[rule] is the rule's index in
  // aging_ plus one (0: no AGE), sized max_rules on the first AGE rule.
  std::vector<AgeState> aging_;
  std::vector<uint32_t> aging_slot_;
  void TrackAging(uint32_t rule);
  void UntrackAging(uint32_t rule);
  std::vector<uint32_t> rule_meter_;  // meter id + 1 per rule, 0 = none (only if meters used)

  // Classifier.
  std::vector<Subtable*> subtables_;  // by id (nullptr = free)
  absl::flat_hash_map<std::string, uint16_t> subtable_by_mask_;
  std::atomic<const Snapshot*> snapshot_{nullptr};
  size_t last_subtable_ = SIZE_MAX;  // cache of the last FindOrAddSubtable result
  std::string last_subtable_bytes_;

  struct ProgramRef {
    ActionProgram* program;
    uint32_t refs;
    uint32_t index;
  };
  absl::node_hash_map<std::string, ProgramRef> programs_;
  ProgramRef* last_program_ = nullptr;
  const ActionProgram** program_table_ = nullptr;  // index -> program, read by the datapath
  std::vector<uint32_t> free_program_indices_;

  // Meters.
  MeterSlot* meters_ = nullptr;
  absl::flat_hash_map<uint32_t, uint32_t> meter_index_;  // id -> slot
  std::vector<uint32_t> meter_refs_;                     // rules using the slot
  std::vector<uint32_t> free_meters_;

  struct Deferred {
    uint64_t token;
    std::function<void()> fn;
  };
  std::deque<Deferred> deferred_;
};

// ---------------------------------------------------------------------------------------------
// Set-up and tear-down

absl::Status SoftAsic::Impl::Init() {
  if (config_.max_rules == 0 || config_.max_rules > (1u << 26)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_rules ", config_.max_rules, " must be 1..", 1u << 26));
  }
  if (config_.representor_queues == 0) {
    return absl::InvalidArgumentError("representor_queues must be >= 1");
  }
  num_slots_ = std::max<uint32_t>(1, static_cast<uint32_t>(config_.datapath_lcores.size()));
  for (unsigned lcore : config_.datapath_lcores) {
    if (!rte_lcore_is_enabled(lcore) || lcore == rte_get_main_lcore()) {
      return absl::InvalidArgumentError(
          absl::StrCat("datapath lcore ", lcore, " is not an enabled worker lcore"));
    }
  }
  const size_t rcu_size = rte_rcu_qsbr_get_memsize(num_slots_);
  rcu_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("softasic_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
  if (rcu_ == nullptr || rte_rcu_qsbr_init(rcu_, num_slots_) != 0) {
    return absl::ResourceExhaustedError("cannot allocate the RCU state");
  }
  // Rule-indexed arrays live in EAL memory (hugepages when EAL has them: fewer TLB misses).
  rules_ = static_cast<RuleEntry*>(
      rte_zmalloc("softasic_rules", sizeof(RuleEntry) * config_.max_rules, RTE_CACHE_LINE_SIZE));
  if (rules_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate ", config_.max_rules, " rules"));
  }
  program_table_ = static_cast<const ActionProgram**>(rte_zmalloc(
      "softasic_programs", sizeof(const ActionProgram*) * config_.max_rules, RTE_CACHE_LINE_SIZE));
  if (program_table_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate the program table");
  }
  free_program_indices_.resize(config_.max_rules);
  for (uint32_t i = 0; i < config_.max_rules; ++i) {
    free_program_indices_[i] = config_.max_rules - 1 - i;
  }
  free_rules_.resize(config_.max_rules);
  for (uint32_t i = 0; i < config_.max_rules; ++i) {
    free_rules_[i] = config_.max_rules - 1 - i;  // hand out 0, 1, 2, ...
  }
  meters_ = static_cast<MeterSlot*>(
      rte_zmalloc("softasic_meters", sizeof(MeterSlot) * std::max(1u, config_.max_meters),
                  RTE_CACHE_LINE_SIZE));
  if (meters_ == nullptr) {
    return absl::ResourceExhaustedError("cannot allocate meters");
  }
  meter_refs_.assign(config_.max_meters, 0);
  for (uint32_t i = 0; i < config_.max_meters; ++i) {
    free_meters_.push_back(config_.max_meters - 1 - i);
  }
  if (config_.meter_uses_rx_timestamp &&
      rte_mbuf_dyn_rx_timestamp_register(&ts_offset_, &ts_flag_) != 0) {
    return absl::InternalError("cannot register the mbuf RX timestamp field");
  }

  if (config_.with_ports) {
    pool_ = rte_pktmbuf_pool_create(absl::StrCat(config_.name, "_pool").c_str(),
                                    config_.mbuf_pool_size, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    static_cast<int>(rte_socket_id()));
    if (pool_ == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot create the mbuf pool: ", rte_strerror(rte_errno)));
    }
    RETURN_IF_ERROR(SetUpPort(config_.uplink, PortRole::kUplink, -1));
    for (size_t i = 0; i < config_.vfs.size(); ++i) {
      RETURN_IF_ERROR(SetUpPort(config_.vfs[i], PortRole::kVf, static_cast<int>(i)));
    }
  } else {
    // Classifier-only instance: ports exist as indices (for ProcessBurst and port items).
    const size_t n = 1 + config_.vfs.size();
    for (size_t i = 0; i < n; ++i) {
      PortInfo info;
      info.role = i == 0 ? PortRole::kUplink : PortRole::kVf;
      info.vf_index = static_cast<int>(i) - 1;
      info.port_id = static_cast<uint16_t>(i);
      info.representor_port_id = static_cast<uint16_t>(i);
      ports_.push_back(info);
      port_state_.push_back(Port{});
      port_index_[i] = static_cast<int16_t>(i);
    }
  }

  const size_t nports = ports_.size();
  const size_t nrep = nports * config_.representor_queues;
  threads_.resize(num_slots_);
  for (auto& t : threads_) {
    t.rule_stats = static_cast<RuleStats*>(rte_zmalloc(
        "softasic_rule_stats", sizeof(RuleStats) * config_.max_rules, RTE_CACHE_LINE_SIZE));
    t.meter_stats = static_cast<MeterCounters*>(
        rte_zmalloc("softasic_meter_stats",
                    sizeof(MeterCounters) * std::max(1u, config_.max_meters), RTE_CACHE_LINE_SIZE));
    if (t.rule_stats == nullptr || t.meter_stats == nullptr) {
      return absl::ResourceExhaustedError("cannot allocate rule and meter counters");
    }
    t.ports.assign(nports, PortCounters{});
    t.tx.assign(nports * kBurst, nullptr);
    t.tx_n.assign(nports, 0);
    t.rep.assign(nrep * kBurst, nullptr);
    t.rep_n.assign(nrep, 0);
    t.dirty_tx.reserve(nports);
    t.dirty_rep.reserve(nrep);
  }
  PublishSnapshot();
  if (config_.register_telemetry) {
    static std::atomic<bool> registered{false};
    if (!registered.exchange(true)) {
      rte_telemetry_register_cmd("/softasic/stats", &Impl::TelemetryCallback,
                                 "softasic rule table and per-port counters. No parameters.");
    }
    absl::MutexLock lock(&g_telemetry_mu);
    g_telemetry_instance = this;
  }
  return absl::OkStatus();
}

absl::Status SoftAsic::Impl::StartEthdev(uint16_t port_id, uint16_t rx_queues,
                                         rte_ring* const* rx_rings) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port_id, rx_queues, 1, &conf);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("port ", port_id, ": rte_eth_dev_configure: ", rte_strerror(-rc)));
  }
  const int socket = rte_eth_dev_socket_id(port_id) < 0 ? 0 : rte_eth_dev_socket_id(port_id);
  for (uint16_t q = 0; q < rx_queues; ++q) {
    rc = rte_eth_rx_queue_setup(port_id, q, 1024, socket, nullptr, pool_);
    if (rc != 0) {
      return absl::InternalError(
          absl::StrCat("port ", port_id, ": rte_eth_rx_queue_setup: ", rte_strerror(-rc)));
    }
  }
  rc = rte_eth_tx_queue_setup(port_id, 0, 1024, socket, nullptr);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("port ", port_id, ": rte_eth_tx_queue_setup: ", rte_strerror(-rc)));
  }
  rc = rte_eth_dev_start(port_id);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("port ", port_id, ": rte_eth_dev_start: ", rte_strerror(-rc)));
  }
  rte_eth_promiscuous_enable(port_id);  // vdevs may not support it; best effort
  (void)rx_rings;
  return absl::OkStatus();
}

absl::Status SoftAsic::Impl::SetUpPort(const SoftAsicPortConfig& pc, PortRole role, int vf_index) {
  Port port;
  PortInfo info;
  info.role = role;
  info.vf_index = vf_index;
  if (pc.port_id >= 0) {
    if (!rte_eth_dev_is_valid_port(static_cast<uint16_t>(pc.port_id))) {
      return absl::NotFoundError(absl::StrCat("port id ", pc.port_id, " is not an ethdev"));
    }
    port.ethdev = static_cast<uint16_t>(pc.port_id);
  } else {
    if (pc.devargs.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(role == PortRole::kUplink ? "uplink" : absl::StrCat("vf ", vf_index),
                       ": neither devargs nor port_id given"));
    }
    const std::string name = pc.devargs.substr(0, pc.devargs.find(','));
    const int rc = rte_dev_probe(pc.devargs.c_str());
    if (rc != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot probe \"", pc.devargs, "\": ", rte_strerror(-rc)));
    }
    port.probed = true;
    port.probed_name = name;
    uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
      return absl::NotFoundError(
          absl::StrCat("devargs \"", pc.devargs, "\" made no ethdev named ", name));
    }
    port.ethdev = id;
  }
  if (port_index_[port.ethdev] >= 0) {
    return absl::AlreadyExistsError(absl::StrCat("port ", port.ethdev, " is used twice"));
  }
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(port.ethdev, name);
  info.port_id = port.ethdev;
  info.name = name;

  const size_t index = ports_.size();
  // Ports and representors are recorded before starting so that the destructor cleans up
  // whatever was made if a later step fails.
  port_state_.push_back(port);
  ports_.push_back(info);
  port_index_[port.ethdev] = static_cast<int16_t>(index);
  Port& p = port_state_.back();
  RETURN_IF_ERROR(StartEthdev(p.ethdev, 1, nullptr));
  p.started = true;

  const std::string rep_name = absl::StrCat(config_.name, "_rep", index);
  for (uint16_t q = 0; q < config_.representor_queues; ++q) {
    // Several datapath lcores may deliver to one representor (PORT_REPRESENTOR from any port):
    // multi-producer then.
    rte_ring* r =
        rte_ring_create(absl::StrCat(rep_name, "_rx", q).c_str(), config_.representor_ring_size,
                        SOCKET_ID_ANY, (num_slots_ > 1 ? 0 : RING_F_SP_ENQ) | RING_F_SC_DEQ);
    if (r == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat(rep_name, ": cannot create ring: ", rte_strerror(rte_errno)));
    }
    p.rep_rx.push_back(r);
  }
  p.rep_tx = rte_ring_create(absl::StrCat(rep_name, "_tx").c_str(), config_.representor_ring_size,
                             SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (p.rep_tx == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat(rep_name, ": cannot create ring: ", rte_strerror(rte_errno)));
  }
  const int rep = rte_eth_from_rings(rep_name.c_str(), p.rep_rx.data(), config_.representor_queues,
                                     &p.rep_tx, 1, rte_socket_id());
  if (rep < 0) {
    return absl::InternalError(
        absl::StrCat(rep_name, ": rte_eth_from_rings: ", rte_strerror(rte_errno)));
  }
  p.representor = static_cast<uint16_t>(rep);
  p.rep_started = true;
  ports_.back().representor_port_id = p.representor;
  ports_.back().representor_name = rep_name;
  port_index_[p.representor] = static_cast<int16_t>(index);
  // The ring PMD binds the rings at creation; configure/start makes the ethdev usable by the
  // agent with rte_eth_rx_burst / rte_eth_tx_burst.
  RETURN_IF_ERROR(StartEthdev(p.representor, config_.representor_queues, p.rep_rx.data()));
  return absl::OkStatus();
}

SoftAsic::Impl::~Impl() {
  Stop();
  {
    absl::MutexLock lock(&g_telemetry_mu);
    if (g_telemetry_instance == this) {
      g_telemetry_instance = nullptr;
    }
  }
  if (rcu_ != nullptr) {
    Reclaim(true);
  }
  for (auto& t : threads_) {
    rte_free(t.rule_stats);
    rte_free(t.meter_stats);
  }
  for (Subtable* st : subtables_) {
    if (st != nullptr) {
      delete st->table;
      delete st;
    }
  }
  delete snapshot_.load();
  for (auto& [bytes, ref] : programs_) {
    delete ref.program;
  }
  for (size_t i = 0; i < port_state_.size(); ++i) {
    Port& p = port_state_[i];
    if (p.rep_started) {
      rte_eth_dev_stop(p.representor);
      rte_eth_dev_close(p.representor);
    }
    for (rte_ring* r : p.rep_rx) {
      // Drain what the agent never read.
      rte_mbuf* m;
      while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) {
        rte_pktmbuf_free(m);
      }
      rte_ring_free(r);
    }
    if (p.rep_tx != nullptr) {
      rte_mbuf* m;
      while (rte_ring_dequeue(p.rep_tx, reinterpret_cast<void**>(&m)) == 0) {
        rte_pktmbuf_free(m);
      }
      rte_ring_free(p.rep_tx);
    }
    if (p.started) {
      rte_eth_dev_stop(p.ethdev);
    }
    if (p.probed) {
      rte_eth_dev_close(p.ethdev);
      rte_vdev_uninit(p.probed_name.c_str());
    }
  }
  rte_mempool_free(pool_);
  rte_free(rules_);
  rte_free(program_table_);
  rte_free(meters_);
  rte_free(rcu_);
}

// ---------------------------------------------------------------------------------------------
// Datapath

int SoftAsic::Impl::LcoreMain(void* arg) {
  auto* a = static_cast<std::pair<Impl*, uint32_t>*>(arg);
  a->first->RunThread(a->second);
  delete a;
  return 0;
}

absl::Status SoftAsic::Impl::Start() {
  if (running_) {
    return absl::FailedPreconditionError("the datapath is already running");
  }
  if (config_.datapath_lcores.empty()) {
    return absl::FailedPreconditionError("no datapath_lcores configured; use PollOnce()");
  }
  stop_ = false;
  for (uint32_t slot = 0; slot < config_.datapath_lcores.size(); ++slot) {
    auto* arg = new std::pair<Impl*, uint32_t>(this, slot);
    const int rc = rte_eal_remote_launch(&Impl::LcoreMain, arg, config_.datapath_lcores[slot]);
    if (rc != 0) {
      delete arg;
      stop_ = true;
      for (uint32_t s = 0; s < slot; ++s) {
        rte_eal_wait_lcore(config_.datapath_lcores[s]);
      }
      caller_registered_ = false;
      return absl::InternalError(absl::StrCat("cannot launch the datapath on lcore ",
                                              config_.datapath_lcores[slot], ": ",
                                              rte_strerror(-rc)));
    }
  }
  running_ = true;
  return absl::OkStatus();
}

void SoftAsic::Impl::Stop() {
  if (!running_) {
    return;
  }
  stop_ = true;
  for (unsigned lcore : config_.datapath_lcores) {
    rte_eal_wait_lcore(lcore);
  }
  running_ = false;
  caller_registered_ = false;  // lcore 0's thread unregistered slot 0 on its way out
}

void SoftAsic::Impl::RunThread(uint32_t slot) {
  rte_rcu_qsbr_thread_register(rcu_, slot);
  rte_rcu_qsbr_thread_online(rcu_, slot);
  std::vector<uint32_t> mine;
  for (uint32_t p = 0; p < ports_.size(); ++p) {
    if (p % num_slots_ == slot) {
      mine.push_back(p);
    }
  }
  // Busy-poll while there is traffic; after idle_polls_before_sleep empty rounds, sleep in
  // growing steps up to idle_sleep_max_us (offline for RCU meanwhile, so control-plane grace
  // periods never wait for a sleeping datapath). 0 disables sleeping (a dedicated core).
  uint32_t idle_rounds = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    uint32_t moved = 0;
    if (config_.record_busy_cycles) {
      Thread& t = threads_[slot];
      for (uint32_t p : mine) {
        const uint64_t t0 = rte_rdtsc();
        const uint32_t k = PollPort(slot, p);
        if (k != 0) {
          Add(t.busy_cycles, rte_rdtsc() - t0);
          Add(t.busy_packets, k);
          moved += k;
        }
      }
    } else {
      for (uint32_t p : mine) {
        moved += PollPort(slot, p);
      }
    }
    rte_rcu_qsbr_quiescent(rcu_, slot);
    if (moved != 0 || config_.idle_sleep_max_us == 0) {
      idle_rounds = 0;
      continue;
    }
    if (++idle_rounds > config_.idle_polls_before_sleep) {
      const uint32_t step = idle_rounds - config_.idle_polls_before_sleep;
      rte_rcu_qsbr_thread_offline(rcu_, slot);
      rte_delay_us_sleep(std::min<uint32_t>(config_.idle_sleep_max_us, 10 * step));
      rte_rcu_qsbr_thread_online(rcu_, slot);
    }
  }
  rte_rcu_qsbr_thread_offline(rcu_, slot);
  rte_rcu_qsbr_thread_unregister(rcu_, slot);
}

uint32_t SoftAsic::Impl::PollOnce() {
  if (running_) {
    return 0;
  }
  CallerOnline();
  uint32_t n = 0;
  for (uint32_t p = 0; p < ports_.size(); ++p) {
    n += PollPort(0, p);
  }
  rte_rcu_qsbr_thread_offline(rcu_, 0);
  return n;
}

void SoftAsic::Impl::ProcessBurstFromCaller(uint16_t port_index, rte_mbuf** pkts, uint16_t n) {
  if (running_ || port_index >= ports_.size()) {
    rte_pktmbuf_free_bulk(pkts, n);
    return;
  }
  CallerOnline();
  for (uint16_t i = 0; i < n; i += kBurst) {
    ProcessPackets(0, port_index, pkts + i, std::min<uint16_t>(kBurst, n - i));
  }
  rte_rcu_qsbr_thread_offline(rcu_, 0);
}

uint32_t SoftAsic::Impl::PollPort(uint32_t slot, uint32_t port) {
  const Port& p = port_state_[port];
  Thread& t = threads_[slot];
  rte_mbuf* pkts[kBurst];
  const uint16_t n = rte_eth_rx_burst(p.ethdev, 0, pkts, kBurst);
  if (n > 0) {
    ProcessPackets(slot, static_cast<uint16_t>(port), pkts, n);
  }
  // What the agent sent on the representor leaves through the represented port, untouched.
  const unsigned m =
      rte_ring_dequeue_burst(p.rep_tx, reinterpret_cast<void**>(pkts), kBurst, nullptr);
  if (m > 0) {
    const uint16_t sent = TxBurst(port, pkts, static_cast<uint16_t>(m));
    PortCounters& pc = t.ports[port];
    Add(pc.from_representor, m);
    Add(pc.tx, sent);
    if (sent < m) {
      Add(pc.drops, m - sent);
      rte_pktmbuf_free_bulk(pkts + sent, m - sent);
    }
  }
  return n + m;
}

void SoftAsic::Impl::Classify(const Snapshot::Group& group, const FlowKey* keys, const uint8_t* idx,
                              uint16_t n, uint64_t* rule_out) const {
  uint64_t data[kBurst];
  uint8_t map[kBurst];
  uint32_t pending = n == 32 ? 0xffffffffu : ((1u << n) - 1);
  for (uint16_t j = 0; j < n; ++j) {
    rule_out[j] = kMissData;
  }
  // Tuple-space search: subtables by priority; a packet leaves the search at its first hit.
  for (const Subtable* st : group.subtables) {
    if (pending == 0) {
      break;
    }
    // Port + IPv4 5-tuple (the agent's rules from VFs): compiled for two words.
    const uint32_t found = st->nwords == 2 ? LookupPending<2>(*st, keys, idx, pending, map, data)
                                           : LookupPending<0>(*st, keys, idx, pending, map, data);
    for (uint32_t hits = found; hits != 0; hits &= hits - 1) {
      const int b = __builtin_ctz(hits);
      const int j = map[b];
      rule_out[j] = data[b];
      pending &= ~(1u << j);
    }
  }
}

inline bool SoftAsic::Impl::PushEncap(Thread& t, rte_mbuf* m, const ActionProgram& prog,
                                      uint16_t in_port) {
  const uint32_t inner_len = m->pkt_len;
  auto* hdr = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, prog.encap_size));
  if (hdr == nullptr) {
    Add(t.ports[in_port].drops, 1);
    rte_pktmbuf_free(m);
    return false;
  }
  CopyEncapTemplate(hdr, prog.encap, prog.encap_size);
  if (prog.encap_udp_offset != 0xffff) {
    const uint32_t udp_len = inner_len + prog.encap_size - prog.encap_udp_offset;
    auto* udp = reinterpret_cast<rte_udp_hdr*>(hdr + prog.encap_udp_offset);
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(udp_len));
    udp->dgram_cksum = 0;
    if (prog.encap_ipv6) {
      auto* ip = reinterpret_cast<rte_ipv6_hdr*>(hdr + prog.encap_ip_offset);
      ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(udp_len));
      udp->dgram_cksum = rte_ipv6_udptcp_cksum_mbuf(m, ip, prog.encap_udp_offset);
    } else {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(hdr + prog.encap_ip_offset);
      const uint32_t total = inner_len + prog.encap_size - prog.encap_ip_offset;
      ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(total));
      ip->hdr_checksum =
          rte_cpu_to_be_16(static_cast<uint16_t>(~FoldSum(prog.encap_ip_sum + total)));
    }
  }
  return true;
}

bool SoftAsic::Impl::RunOps(Thread& t, uint32_t rule, const ActionProgram& prog, rte_mbuf*& m,
                            FlowKey& key, PacketLayout& layout, uint64_t now, uint16_t in_port) {
  bool layout_valid = true;
  for (int i = 0; i < prog.num_ops; ++i) {
    switch (prog.ops[i]) {
      case Op::kCount: {
        RuleStats& s = t.rule_stats[rule];
        Add(s.packets, 1);
        Add(s.bytes, m->pkt_len);
        break;
      }
      case Op::kAge:
        __atomic_store_n(&t.rule_stats[rule].last_hit_tsc, now, __ATOMIC_RELAXED);
        break;
      case Op::kMeter: {
        uint64_t time = now;
        if (ts_offset_ >= 0 && (m->ol_flags & ts_flag_) != 0) {
          time = *RTE_MBUF_DYNFIELD(m, ts_offset_, uint64_t*);
        }
        const rte_color c = MeterColour(meters_[prog.meter_index], time, m->pkt_len);
        MeterCounters& mc = t.meter_stats[prog.meter_index];
        if (c == RTE_COLOR_RED) {
          Add(mc.red, 1);
          Add(t.ports[in_port].drops, 1);
          rte_pktmbuf_free(m);
          return false;
        }
        Add(c == RTE_COLOR_GREEN ? mc.green : mc.yellow, 1);
        break;
      }
      case Op::kMark:
        m->hash.fdir.hi = prog.mark;
        m->ol_flags |= RTE_MBUF_F_RX_FDIR | RTE_MBUF_F_RX_FDIR_ID;
        key.f.meta.mark = prog.mark;
        break;
      case Op::kSetMacSrc:
      case Op::kSetMacDst: {
        if (m->data_len < sizeof(rte_ether_hdr)) {
          break;
        }
        auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
        if (prog.ops[i] == Op::kSetMacSrc) {
          std::memcpy(&eth->src_addr, prog.mac_src, 6);
        } else {
          std::memcpy(&eth->dst_addr, prog.mac_dst, 6);
        }
        break;
      }
      case Op::kDecTtl: {
        if (!layout_valid) {
          ExtractKey(m, in_port, key.f.meta.mark, key, layout);
          layout_valid = true;
        }
        if (layout.l3_is_ipv4) {
          auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, layout.l3_offset);
          if (ip->time_to_live > 0) {
            // RFC 1624 incremental update: the TTL is the high byte of its 16-bit word.
            ip->time_to_live--;
            const uint32_t sum = static_cast<uint32_t>(rte_be_to_cpu_16(ip->hdr_checksum)) + 0x100;
            ip->hdr_checksum = rte_cpu_to_be_16(static_cast<uint16_t>(sum + (sum >> 16)));
          }
        } else if (layout.l3_is_ipv6) {
          auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, layout.l3_offset);
          if (ip->hop_limits > 0) {
            ip->hop_limits--;
          }
        }
        break;
      }
      case Op::kEncap:
        if (!PushEncap(t, m, prog, in_port)) {
          return false;
        }
        layout_valid = false;
        break;
      case Op::kVxlanDecap: {
        if (!layout_valid) {
          ExtractKey(m, in_port, key.f.meta.mark, key, layout);
          layout_valid = true;
        }
        if (layout.inner_offset == 0 || rte_pktmbuf_adj(m, layout.inner_offset) == nullptr) {
          Add(t.ports[in_port].drops, 1);
          rte_pktmbuf_free(m);
          return false;
        }
        layout_valid = false;
        break;
      }
      case Op::kRawDecap:
        if (rte_pktmbuf_adj(m, prog.raw_decap_size) == nullptr) {
          Add(t.ports[in_port].drops, 1);
          rte_pktmbuf_free(m);
          return false;
        }
        layout_valid = false;
        break;
      case Op::kSetTag:
        break;
    }
  }
  return true;
}

void SoftAsic::Impl::EmitMiss(Thread& t, rte_mbuf* m, uint16_t in_port) {
  Add(t.ports[in_port].misses, 1);
  const uint32_t slot = in_port * config_.representor_queues;
  if (t.rep_n[slot] == 0) {
    t.dirty_rep.push_back(slot);
  }
  t.rep[slot * kBurst + t.rep_n[slot]++] = m;
}

inline void SoftAsic::Impl::Emit(Thread& t, rte_mbuf* m, const ActionProgram& prog,
                                 uint16_t in_port) {
  switch (prog.fate) {
    case Fate::kDrop:
    case Fate::kJump:  // jumps are resolved by the caller
      Add(t.ports[in_port].drops, 1);
      rte_pktmbuf_free(m);
      return;
    case Fate::kPort: {
      const uint16_t p = prog.out_port;
      if (t.tx_n[p] == 0) {
        t.dirty_tx.push_back(p);
      }
      t.tx[p * kBurst + t.tx_n[p]++] = m;
      return;
    }
    case Fate::kRepresentor:
    case Fate::kQueue: {
      const uint16_t p = prog.fate == Fate::kQueue ? in_port : prog.out_port;
      const uint32_t slot = p * config_.representor_queues + prog.queue;
      if (t.rep_n[slot] == 0) {
        t.dirty_rep.push_back(slot);
      }
      t.rep[slot * kBurst + t.rep_n[slot]++] = m;
      return;
    }
  }
}

void SoftAsic::Impl::Flush(Thread& t) {
  for (uint32_t p : t.dirty_tx) {
    const uint16_t n = t.tx_n[p];
    rte_mbuf** pkts = &t.tx[p * kBurst];
    const uint16_t sent = TxBurst(p, pkts, n);
    Add(t.ports[p].tx, sent);
    if (sent < n) {
      Add(t.ports[p].drops, n - sent);
      rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    }
    t.tx_n[p] = 0;
  }
  t.dirty_tx.clear();
  for (uint32_t slot : t.dirty_rep) {
    const uint16_t n = t.rep_n[slot];
    rte_mbuf** pkts = &t.rep[slot * kBurst];
    const uint32_t port = slot / config_.representor_queues;
    const uint32_t q = slot % config_.representor_queues;
    rte_ring* ring = port_state_[port].rep_rx.empty() ? nullptr : port_state_[port].rep_rx[q];
    const unsigned sent =
        ring == nullptr ? 0
                        : rte_ring_enqueue_burst(ring, reinterpret_cast<void**>(pkts), n, nullptr);
    if (sent < n) {
      Add(t.ports[port].drops, n - sent);
      rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    }
    t.rep_n[slot] = 0;
  }
  t.dirty_rep.clear();
}

void SoftAsic::Impl::ProcessPackets(uint32_t slot, uint16_t in_port, rte_mbuf** pkts, uint16_t n) {
  Thread& t = threads_[slot];
  Add(t.ports[in_port].rx, n);
  FlowKey keys[kBurst];
  PacketLayout layouts[kBurst];
  uint32_t group_of[kBurst];
  // Three passes so that each kind of cache miss of the whole burst is in flight at once: the
  // mbuf headers, then (reading each header once it has arrived) the packet data, then parsing.
  for (uint16_t i = 0; i < n; ++i) {
    rte_prefetch0(pkts[i]);
  }
  for (uint16_t i = 0; i < n; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  for (uint16_t i = 0; i < n; ++i) {
    ExtractKey(pkts[i], in_port, 0, keys[i], layouts[i]);
    group_of[i] = 0;
  }
  const Snapshot* snap = snapshot_.load(std::memory_order_acquire);
  const uint64_t now = rte_rdtsc();

  uint8_t pending[kBurst];
  uint16_t npending = n;
  for (uint16_t i = 0; i < n; ++i) {
    pending[i] = static_cast<uint8_t>(i);
  }
  uint8_t batch[kBurst];
  uint8_t rest[kBurst];
  uint64_t rule_of[kBurst];
  uint8_t jumps[kBurst] = {};
  while (npending > 0) {
    // Classify the packets that are in the same group as the first pending one.
    const uint32_t g = group_of[pending[0]];
    uint16_t nb = 0;
    uint16_t nr = 0;
    for (uint16_t j = 0; j < npending; ++j) {
      if (group_of[pending[j]] == g) {
        batch[nb++] = pending[j];
      } else {
        rest[nr++] = pending[j];
      }
    }
    const Snapshot::Group* grp = snap->Find(g);
    if (grp != nullptr) {
      Classify(*grp, keys, batch, nb, rule_of);
    } else {
      std::fill(rule_of, rule_of + nb, kMissData);
    }
    // The entry's datum carries the rule id and its program's index: no lookup in rules_[].
    // Prefetch what the actions will write: the rule's stats (COUNT, AGE) and, for an encap,
    // the headroom line the outer headers go to (never touched by the PMD).
    for (uint16_t j = 0; j < nb; ++j) {
      if (rule_of[j] == kMissData) {
        continue;
      }
      if ((rule_of[j] & kUsesRuleStats) != 0) {
        rte_prefetch0(&t.rule_stats[DataRule(rule_of[j])]);
      }
      const ActionProgram* prog = program_table_[DataProgram(rule_of[j])];
      if (prog->encap_size != 0) {
        rte_prefetch0_write(rte_pktmbuf_mtod(pkts[batch[j]], uint8_t*) - prog->encap_size);
      }
    }
    for (uint16_t j = 0; j < nb; ++j) {
      const uint8_t i = batch[j];
      rte_mbuf* m = pkts[i];
      if (rule_of[j] == kMissData) {
        EmitMiss(t, m, in_port);
        continue;
      }
      const uint32_t rule = DataRule(rule_of[j]);
      const ActionProgram& prog = *program_table_[DataProgram(rule_of[j])];
      if (prog.num_ops == 1 && prog.ops[0] == Op::kEncap) {
        // An overlay rule's only op (VF -> uplink): inline, without RunOps' call and dispatch.
        if (!PushEncap(t, m, prog, in_port)) {
          continue;
        }
      } else if (prog.num_ops != 0 &&
                 !RunOps(t, rule, prog, m, keys[i], layouts[i], now, in_port)) {
        continue;
      }
      pkts[i] = m;
      if (prog.fate == Fate::kJump) {
        if (++jumps[i] > kMaxJumps) {
          Add(t.ports[in_port].drops, 1);  // jump loop
          rte_pktmbuf_free(m);
          continue;
        }
        if (prog.modifies_headers) {
          ExtractKey(m, in_port, keys[i].f.meta.mark, keys[i], layouts[i]);
        }
        group_of[i] = prog.jump_group;
        rest[nr++] = i;
        continue;
      }
      Emit(t, m, prog, in_port);
    }
    std::copy(rest, rest + nr, pending);
    npending = nr;
  }
  Flush(t);
}

// ---------------------------------------------------------------------------------------------
// Control: classifier maintenance

void SoftAsic::Impl::PublishSnapshot() {
  auto* snap = new Snapshot();
  std::map<uint32_t, std::vector<const Subtable*>> groups;
  for (const Subtable* st : subtables_) {
    if (st != nullptr) {
      groups[st->group].push_back(st);
    }
  }
  for (auto& [g, list] : groups) {
    std::sort(list.begin(), list.end(), [](const Subtable* a, const Subtable* b) {
      return a->priority != b->priority ? a->priority < b->priority : a->id < b->id;
    });
    snap->groups.push_back(Snapshot::Group{g, std::move(list)});
  }
  const Snapshot* old = snapshot_.exchange(snap, std::memory_order_acq_rel);
  if (old != nullptr) {
    Defer([old] { delete old; });
  }
}

absl::StatusOr<Subtable*> SoftAsic::Impl::FindOrAddSubtable(const CompiledFlow& flow,
                                                            bool* created) {
  std::string id_bytes(reinterpret_cast<const char*>(&flow.group), 4);
  id_bytes.append(reinterpret_cast<const char*>(&flow.priority), 4);
  id_bytes.append(reinterpret_cast<const char*>(flow.mask.w), sizeof(flow.mask.w));
  *created = false;
  // Bulk inserts usually repeat the previous rule's (group, priority, mask).
  if (last_subtable_ < subtables_.size() && subtables_[last_subtable_] != nullptr &&
      id_bytes == last_subtable_bytes_) {
    return subtables_[last_subtable_];
  }
  if (auto it = subtable_by_mask_.find(id_bytes); it != subtable_by_mask_.end()) {
    last_subtable_ = it->second;
    last_subtable_bytes_ = std::move(id_bytes);
    return subtables_[it->second];
  }
  auto st = std::make_unique<Subtable>();
  st->group = flow.group;
  st->priority = flow.priority;
  for (int w = 0; w < kKeyWords; ++w) {
    if (flow.mask.w[w] != 0) {
      st->cmask[st->nwords] = flow.mask.w[w];
      st->words[st->nwords++] = static_cast<uint8_t>(w);
    }
  }
  // A match-all rule gets one word with a zero mask.
  if (st->nwords == 0) {
    st->cmask[st->nwords] = 0;
    st->words[st->nwords++] = 0;
  }
  uint16_t id = 0;
  while (id < subtables_.size() && subtables_[id] != nullptr) {
    ++id;
  }
  if (id == 0xffff) {
    return absl::ResourceExhaustedError("too many distinct (group, priority, mask) subtables");
  }
  st->id = id;
  st->capacity = std::min(config_.max_rules, kFirstSubtableCapacity);
  st->table = ExactMatchTable::Create(st->capacity, st->nwords, static_cast<int>(rte_socket_id()))
                  .release();
  if (st->table == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot allocate a subtable of ", st->capacity, " rules"));
  }
  if (id == subtables_.size()) {
    subtables_.push_back(nullptr);
  }
  subtables_[id] = st.release();
  subtable_by_mask_[id_bytes] = id;
  last_subtable_ = id;
  last_subtable_bytes_ = std::move(id_bytes);
  *created = true;
  return subtables_[id];
}

absl::Status SoftAsic::Impl::GrowSubtable(Subtable* st) {
  const uint32_t capacity =
      static_cast<uint32_t>(std::min<uint64_t>(config_.max_rules, uint64_t{st->capacity} * 4));
  if (capacity <= st->capacity) {
    return absl::ResourceExhaustedError("subtable at the configured capacity");
  }
  std::unique_ptr<ExactMatchTable> bigger =
      ExactMatchTable::Create(capacity, st->nwords, static_cast<int>(rte_socket_id()));
  if (bigger == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot grow a subtable to ", capacity, " rules"));
  }
  // Copy into the new table; readers keep using the old one until the snapshot switches.
  bool copied = true;
  std::vector<std::pair<uint32_t, int32_t>> positions;  // rule -> entry in the new table
  positions.reserve(st->count);
  st->table->ForEach([&](const uint64_t* key, uint64_t data) {
    const int32_t e = bigger->Add(key, HashKey(*st, key), data);
    copied &= e >= 0;
    positions.emplace_back(DataRule(data), e);
  });
  if (!copied) {
    return absl::InternalError("subtable copy failed");
  }
  for (const auto& [rule, entry] : positions) {
    rules_[rule].position = entry;
  }
  // A new Subtable object so that a reader sees either the old (table, capacity) or the new.
  auto* grown = new Subtable(*st);
  grown->table = bigger.release();
  grown->capacity = capacity;
  subtables_[st->id] = grown;
  PublishSnapshot();
  Defer([st] {
    delete st->table;
    delete st;
  });
  return absl::OkStatus();
}

std::pair<const ActionProgram*, uint32_t> SoftAsic::Impl::InternProgram(
    const ActionProgram& program) {
  // Bulk inserts usually repeat the previous rule's actions.
  if (last_program_ != nullptr &&
      std::memcmp(last_program_->program, &program, sizeof(program)) == 0) {
    last_program_->refs++;
    return {last_program_->program, last_program_->index};
  }
  std::string bytes(reinterpret_cast<const char*>(&program), sizeof(program));
  auto [it, inserted] = programs_.try_emplace(std::move(bytes), ProgramRef{nullptr, 0, 0});
  if (inserted) {
    // There are never more programs than rules, and a rule id is free here: so is an index.
    it->second.program = new ActionProgram(program);
    it->second.index = free_program_indices_.back();
    free_program_indices_.pop_back();
    program_table_[it->second.index] = it->second.program;
  }
  it->second.refs++;
  last_program_ = &it->second;  // node_hash_map: stable until erased
  return {it->second.program, it->second.index};
}

void SoftAsic::Impl::ReleaseProgram(const ActionProgram* program) {
  std::string bytes(reinterpret_cast<const char*>(program), sizeof(*program));
  auto it = programs_.find(bytes);
  if (it == programs_.end()) {
    return;
  }
  if (--it->second.refs == 0) {
    if (last_program_ == &it->second) {
      last_program_ = nullptr;
    }
    // Called after a grace period: no datapath thread holds the index any more.
    program_table_[it->second.index] = nullptr;
    free_program_indices_.push_back(it->second.index);
    delete it->second.program;
    programs_.erase(it);
  }
}

void SoftAsic::Impl::Defer(std::function<void()> fn) {
  deferred_.push_back(Deferred{rte_rcu_qsbr_start(rcu_), std::move(fn)});
}

void SoftAsic::Impl::Reclaim(bool wait) {
  while (!deferred_.empty()) {
    if (rte_rcu_qsbr_check(rcu_, deferred_.front().token, wait) != 1) {
      return;
    }
    auto fn = std::move(deferred_.front().fn);
    deferred_.pop_front();
    fn();
  }
}

// ---------------------------------------------------------------------------------------------
// Control: rules, meters, stats

absl::StatusOr<uint32_t> SoftAsic::Impl::CreateFlow(uint16_t port_id, const rte_flow_attr& attr,
                                                    const rte_flow_item* pattern,
                                                    const rte_flow_action* actions, bool install) {
  Reclaim(false);
  if (PortIndex(port_id) < 0) {
    return absl::NotFoundError(absl::StrCat("port ", port_id, " is not a port of this switch"));
  }
  ASSIGN_OR_RETURN(CompiledFlow flow,
                   softasic_internal::CompileFlow(attr, pattern, actions, MakeCompileContext()));
  if (!install) {
    return 0;
  }
  return Insert(flow);
}

CompileContext SoftAsic::Impl::MakeCompileContext() {
  CompileContext context;
  context.port_index = [this](uint16_t id) { return PortIndex(id); };
  context.meter_index = [this](uint32_t id) -> absl::StatusOr<uint32_t> {
    auto it = meter_index_.find(id);
    if (it == meter_index_.end()) {
      return absl::NotFoundError("meter");
    }
    return it->second;
  };
  context.representor_queues = config_.representor_queues;
  return context;
}

std::vector<absl::StatusOr<uint32_t>> SoftAsic::Impl::CreateRules(
    absl::Span<const flowrules::Rule* const> rules) {
  std::vector<absl::StatusOr<uint32_t>> results;
  results.reserve(rules.size());
  Reclaim(false);
  const CompileContext context = MakeCompileContext();
  CompiledFlow flow;
  for (const flowrules::Rule* rule : rules) {
    if (absl::Status valid = flowrules::Validate(*rule); !valid.ok()) {
      results.push_back(std::move(valid));
      continue;
    }
    if (ports_.empty()) {
      results.push_back(absl::FailedPreconditionError("the softasic has no ports"));
      continue;
    }
    flow = CompiledFlow{};
    if (softasic_internal::CompileRuleDirect(*rule, context, flow)) {
      results.push_back(Insert(flow));
      continue;
    }
    // Not covered by the direct compiler (or refused): the reference path gives the result.
    absl::StatusOr<flowrules::CompiledRule> compiled = flowrules::CompiledRule::Compile(*rule);
    if (!compiled.ok()) {
      results.push_back(compiled.status());
      continue;
    }
    results.push_back(CreateFlow(ports_.front().port_id, *compiled->attr(), compiled->pattern(),
                                 compiled->actions(), true));
  }
  return results;
}

absl::StatusOr<uint32_t> SoftAsic::Impl::Insert(const CompiledFlow& flow) {
  if (free_rules_.empty()) {
    Reclaim(true);
  }
  if (free_rules_.empty() || live_rules_ >= config_.max_rules) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "rule table full: ", live_rules_, " rules installed, capacity ", config_.max_rules));
  }
  bool created = false;
  ASSIGN_OR_RETURN(Subtable * st, FindOrAddSubtable(flow, &created));
  uint64_t ck[kKeyWords];
  const uint32_t hash = CompactKey(*st, flow.value, ck);
  if (st->table->Find(ck, hash) >= 0) {
    return absl::AlreadyExistsError(absl::StrCat("a rule with the same group ", flow.group,
                                                 ", priority ", flow.priority,
                                                 " and match exists"));
  }
  if (st->count >= st->capacity) {
    RETURN_IF_ERROR(GrowSubtable(st));
    st = subtables_[st->id];
  }
  const uint32_t rule = free_rules_.back();
  const auto [program, program_index] = InternProgram(flow.program);
  bool uses_stats = false;
  for (int i = 0; i < flow.program.num_ops; ++i) {
    uses_stats |= flow.program.ops[i] == Op::kCount || flow.program.ops[i] == Op::kAge;
  }
  const uint64_t data = (uint64_t{program_index} << 32) | rule | (uses_stats ? kUsesRuleStats : 0);
  // Everything the datapath reads for this rule is written before the key is published.
  for (auto& t : threads_) {
    t.rule_stats[rule] = RuleStats{0, 0, 0};
  }
  rules_[rule] = RuleEntry{program, -1, st->id, 1, 0};
  int32_t entry = st->table->Add(ck, hash, data);
  if (entry == -ENOSPC) {
    absl::Status grown = GrowSubtable(st);
    if (grown.ok()) {
      st = subtables_[st->id];
      entry = st->table->Add(ck, hash, data);
    }
  }
  if (entry < 0) {
    rules_[rule].live = 0;
    ReleaseProgram(program);
    return absl::ResourceExhaustedError(
        absl::StrCat("subtable insert failed: ", rte_strerror(-entry)));
  }
  free_rules_.pop_back();
  rules_[rule].position = entry;
  st->count++;
  live_rules_++;
  if (created) {
    PublishSnapshot();
  }
  if (flow.program.age_seconds != 0) {
    TrackAging(rule);
  }
  if (flow.has_meter) {
    meter_refs_[flow.program.meter_index]++;
  }
  return rule;
}

absl::Status SoftAsic::Impl::DestroyFlow(uint32_t rule_id) {
  Reclaim(false);
  if (rule_id >= config_.max_rules || !rules_[rule_id].live) {
    return absl::NotFoundError(absl::StrCat("rule ", rule_id, " is not installed"));
  }
  RuleEntry& e = rules_[rule_id];
  Subtable* st = subtables_[e.subtable];
  uint64_t ck[kKeyWords];
  std::memcpy(ck, st->table->EntryKey(e.position), st->nwords * 8u);
  const int32_t pos = st->table->Remove(ck, HashKey(*st, ck));
  if (pos < 0) {
    return absl::InternalError(absl::StrCat("rule ", rule_id, ": key not in its subtable"));
  }
  e.live = 0;
  live_rules_--;
  st->count--;
  const ActionProgram* program = e.program;
  if (program->num_ops > 0) {
    for (int i = 0; i < program->num_ops; ++i) {
      if (program->ops[i] == Op::kMeter) {
        meter_refs_[program->meter_index]--;
      }
    }
  }
  UntrackAging(rule_id);
  ExactMatchTable* table = st->table;
  Defer([this, table, pos, rule_id, program] {
    table->FreeEntry(pos);
    ReleaseProgram(program);
    free_rules_.push_back(rule_id);
  });
  if (st->count == 0) {
    // Drop the empty subtable from the lookup path; free it after readers are done.
    if (last_subtable_ == st->id) {
      last_subtable_ = SIZE_MAX;
    }
    for (auto it = subtable_by_mask_.begin(); it != subtable_by_mask_.end(); ++it) {
      if (it->second == st->id) {
        subtable_by_mask_.erase(it);
        break;
      }
    }
    subtables_[st->id] = nullptr;
    PublishSnapshot();
    Defer([st] {
      delete st->table;
      delete st;
    });
  }
  return absl::OkStatus();
}

absl::StatusOr<SoftAsicFlowCounters> SoftAsic::Impl::QueryFlow(uint32_t rule_id) const {
  if (rule_id >= config_.max_rules || !rules_[rule_id].live) {
    return absl::NotFoundError(absl::StrCat("rule ", rule_id, " is not installed"));
  }
  SoftAsicFlowCounters c;
  const ActionProgram* p = rules_[rule_id].program;
  for (int i = 0; i < p->num_ops; ++i) {
    c.counted |= p->ops[i] == Op::kCount;
  }
  if (!c.counted) {
    return c;
  }
  for (const auto& t : threads_) {
    c.packets += Load(t.rule_stats[rule_id].packets);
    c.bytes += Load(t.rule_stats[rule_id].bytes);
  }
  return c;
}

std::vector<uint32_t> SoftAsic::Impl::CollectAgedFlows() {
  Reclaim(false);
  std::vector<uint32_t> aged;
  const uint64_t now = rte_rdtsc();
  const uint64_t hz = rte_get_tsc_hz();
  for (AgeState& state : aging_) {
    const uint32_t rule = state.rule;
    uint64_t last = state.created_tsc;
    for (const auto& t : threads_) {
      last = std::max(last, Load(t.rule_stats[rule].last_hit_tsc));
    }
    const uint64_t timeout = uint64_t{rules_[rule].program->age_seconds} * hz;
    const bool expired = now > last && now - last >= timeout;
    if (!expired) {
      state.reported = false;
      continue;
    }
    if (!state.reported) {
      state.reported = true;
      aged.push_back(rule);
    }
  }
  std::sort(aged.begin(), aged.end());  // by rule id, whatever the dense order
  return aged;
}

void SoftAsic::Impl::TrackAging(uint32_t rule) {
  if (aging_slot_.empty()) {
    aging_slot_.assign(config_.max_rules, 0);
  }
  aging_.push_back(AgeState{rule, false, rte_rdtsc()});
  aging_slot_[rule] = static_cast<uint32_t>(aging_.size());
}

void SoftAsic::Impl::UntrackAging(uint32_t rule) {
  if (aging_slot_.empty() || aging_slot_[rule] == 0) {
    return;
  }
  const uint32_t index = aging_slot_[rule] - 1;
  aging_slot_[rule] = 0;
  if (index + 1 != aging_.size()) {
    aging_[index] = aging_.back();
    aging_slot_[aging_[index].rule] = index + 1;
  }
  aging_.pop_back();
}

absl::Status SoftAsic::Impl::CreateMeter(uint32_t meter_id, const MeterProfile& profile) {
  if (meter_index_.contains(meter_id)) {
    return absl::AlreadyExistsError(absl::StrCat("meter ", meter_id, " exists"));
  }
  RETURN_IF_ERROR(CheckMeterProfile(meter_id, profile));
  if (free_meters_.empty()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("all ", config_.max_meters, " meters are in use"));
  }
  const uint32_t slot = free_meters_.back();
  // The slot is unused by the datapath (a destroyed meter's slot is freed after a grace period).
  MeterSlot& ms = meters_[slot];
  const uint64_t hz = rte_get_tsc_hz();
  ms.cost_p = MeterCost(hz, profile.pir_bytes_per_second);
  ms.cost_c = MeterCost(hz, profile.cir_bytes_per_second);
  ms.depth_p = MeterTicks(profile.pbs_bytes, ms.cost_p);
  ms.depth_c = MeterTicks(profile.cbs_bytes, ms.cost_c);
  ms.tat_p = 0;  // both buckets full
  ms.tat_c = 0;
  ms.base_tsc = rte_rdtsc();
  for (auto& t : threads_) {
    t.meter_stats[slot] = MeterCounters{0, 0, 0};
  }
  free_meters_.pop_back();
  meter_index_[meter_id] = slot;
  return absl::OkStatus();
}

absl::Status SoftAsic::Impl::DestroyMeter(uint32_t meter_id) {
  auto it = meter_index_.find(meter_id);
  if (it == meter_index_.end()) {
    return absl::NotFoundError(absl::StrCat("meter ", meter_id, " does not exist"));
  }
  if (meter_refs_[it->second] != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "meter ", meter_id, " is used by ", meter_refs_[it->second], " installed rule(s)"));
  }
  const uint32_t slot = it->second;
  meter_index_.erase(it);
  // Datapath threads may still be colouring with it: reuse the slot after a grace period.
  Defer([this, slot] { free_meters_.push_back(slot); });
  return absl::OkStatus();
}

absl::StatusOr<MeterStats> SoftAsic::Impl::QueryMeter(uint32_t meter_id) const {
  auto it = meter_index_.find(meter_id);
  if (it == meter_index_.end()) {
    return absl::NotFoundError(absl::StrCat("meter ", meter_id, " does not exist"));
  }
  MeterStats stats{0, 0, 0};
  for (const auto& t : threads_) {
    const MeterCounters& mc = t.meter_stats[it->second];
    stats.green_packets += Load(mc.green);
    stats.yellow_packets += Load(mc.yellow);
    stats.red_packets += Load(mc.red);
  }
  return stats;
}

std::vector<SoftAsicLcoreStats> SoftAsic::Impl::LcoreStats() const {
  std::vector<SoftAsicLcoreStats> out;
  for (size_t slot = 0; slot < config_.datapath_lcores.size() && slot < threads_.size(); ++slot) {
    out.push_back(SoftAsicLcoreStats{config_.datapath_lcores[slot],
                                     Load(threads_[slot].busy_cycles),
                                     Load(threads_[slot].busy_packets)});
  }
  return out;
}

SoftAsicPortStats SoftAsic::Impl::PortStats(int port_index) const {
  SoftAsicPortStats s;
  if (port_index < 0 || static_cast<size_t>(port_index) >= ports_.size()) {
    return s;
  }
  for (const auto& t : threads_) {
    const PortCounters& c = t.ports[port_index];
    s.rx += Load(c.rx);
    s.tx += Load(c.tx);
    s.drops += Load(c.drops);
    s.misses += Load(c.misses);
    s.from_representor += Load(c.from_representor);
  }
  return s;
}

SoftAsicTableStats SoftAsic::Impl::TableStats() const {
  SoftAsicTableStats s;
  s.rules = live_rules_;
  s.capacity = config_.max_rules;
  s.action_programs = static_cast<uint32_t>(programs_.size());
  std::map<uint32_t, int> groups;
  uint64_t hash_bytes = 0;
  for (const Subtable* st : subtables_) {
    if (st == nullptr) {
      continue;
    }
    s.subtables++;
    groups[st->group]++;
    hash_bytes += st->table->memory_bytes() + sizeof(Subtable);
  }
  s.groups = static_cast<uint32_t>(groups.size());
  s.memory_bytes = hash_bytes + uint64_t{config_.max_rules} * sizeof(RuleEntry) +
                   uint64_t{config_.max_rules} * 2 * sizeof(uint32_t) +  // free lists
                   uint64_t{config_.max_rules} * sizeof(void*) +         // program table
                   uint64_t{config_.max_rules} * sizeof(RuleStats) * threads_.size() +
                   programs_.size() * (sizeof(ActionProgram) + 64);
  return s;
}

int SoftAsic::Impl::TelemetryCallback(const char* /*cmd*/, const char* /*params*/,
                                      rte_tel_data* d) {
  absl::MutexLock instance_lock(&g_telemetry_mu);
  Impl* self = g_telemetry_instance;
  rte_tel_data_start_dict(d);
  if (self == nullptr) {
    return 0;
  }
  SoftAsicTableStats ts;
  {
    // Control state changes under control_mu_ (the telemetry thread is a second reader).
    absl::MutexLock lock(&self->control_mu_);
    ts = self->TableStats();
  }
  rte_tel_data_add_dict_u64(d, "rules", ts.rules);
  rte_tel_data_add_dict_u64(d, "capacity", ts.capacity);
  rte_tel_data_add_dict_u64(d, "subtables", ts.subtables);
  rte_tel_data_add_dict_u64(d, "groups", ts.groups);
  rte_tel_data_add_dict_u64(d, "action_programs", ts.action_programs);
  rte_tel_data_add_dict_u64(d, "memory_bytes", ts.memory_bytes);
  for (size_t i = 0; i < self->ports_.size(); ++i) {
    const SoftAsicPortStats ps = self->PortStats(static_cast<int>(i));
    const std::string p = absl::StrCat("port", i, "_");
    rte_tel_data_add_dict_u64(d, (p + "rx").c_str(), ps.rx);
    rte_tel_data_add_dict_u64(d, (p + "tx").c_str(), ps.tx);
    rte_tel_data_add_dict_u64(d, (p + "drops").c_str(), ps.drops);
    rte_tel_data_add_dict_u64(d, (p + "misses").c_str(), ps.misses);
  }
  if (self->config_.record_busy_cycles) {
    rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
    for (const SoftAsicLcoreStats& l : self->LcoreStats()) {
      const std::string p = absl::StrCat("lcore", l.lcore, "_");
      rte_tel_data_add_dict_u64(d, (p + "busy_cycles").c_str(), l.busy_cycles);
      rte_tel_data_add_dict_u64(d, (p + "busy_packets").c_str(), l.busy_packets);
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Public wrappers

SoftAsic::SoftAsic(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SoftAsic::~SoftAsic() = default;

absl::StatusOr<std::unique_ptr<SoftAsic>> SoftAsic::Create(const SoftAsicConfig& config) {
  auto impl = std::make_unique<Impl>(config);
  RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<SoftAsic>(new SoftAsic(std::move(impl)));
}

absl::Status SoftAsic::Start() { return impl_->Start(); }
void SoftAsic::Stop() { impl_->Stop(); }

absl::StatusOr<uint32_t> SoftAsic::CreateFlow(uint16_t port_id, const rte_flow_attr& attr,
                                              const rte_flow_item* pattern,
                                              const rte_flow_action* actions) {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->CreateFlow(port_id, attr, pattern, actions, true);
}
std::vector<absl::StatusOr<uint32_t>> SoftAsic::CreateRules(
    absl::Span<const flowrules::Rule* const> rules) {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->CreateRules(rules);
}

absl::Status SoftAsic::ValidateFlow(uint16_t port_id, const rte_flow_attr& attr,
                                    const rte_flow_item* pattern, const rte_flow_action* actions) {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->CreateFlow(port_id, attr, pattern, actions, false).status();
}
absl::Status SoftAsic::DestroyFlow(uint32_t rule_id) {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->DestroyFlow(rule_id);
}
absl::StatusOr<SoftAsicFlowCounters> SoftAsic::QueryFlow(uint32_t rule_id) const {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->QueryFlow(rule_id);
}
std::vector<uint32_t> SoftAsic::CollectAgedFlows() {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->CollectAgedFlows();
}
absl::Status SoftAsic::CreateMeter(uint32_t meter_id, const MeterProfile& profile) {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->CreateMeter(meter_id, profile);
}
absl::Status SoftAsic::DestroyMeter(uint32_t meter_id) {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->DestroyMeter(meter_id);
}
absl::StatusOr<MeterStats> SoftAsic::QueryMeter(uint32_t meter_id) const {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->QueryMeter(meter_id);
}
const std::vector<PortInfo>& SoftAsic::ports() const { return impl_->ports(); }
int SoftAsic::PortIndex(uint16_t port_id) const { return impl_->PortIndex(port_id); }
SoftAsicPortStats SoftAsic::PortStats(int port_index) const { return impl_->PortStats(port_index); }
SoftAsicTableStats SoftAsic::TableStats() const {
  absl::MutexLock lock(&impl_->control_mu_);
  return impl_->TableStats();
}
uint32_t SoftAsic::PollOnce() { return impl_->PollOnce(); }
std::vector<SoftAsicLcoreStats> SoftAsic::LcoreStats() const { return impl_->LcoreStats(); }
void SoftAsic::ProcessBurst(uint16_t port_index, rte_mbuf** pkts, uint16_t n) {
  impl_->ProcessBurstFromCaller(port_index, pkts, n);
}
void SoftAsic::ReclaimNow() {
  absl::MutexLock lock(&impl_->control_mu_);
  impl_->Reclaim(true);
}

}  // namespace nicswitch::device
