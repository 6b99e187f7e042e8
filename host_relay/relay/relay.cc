#include "host_relay/relay/relay.h"

#include <rte_bus.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_telemetry.h>
#include <rte_vhost.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "host_relay/relay/zero_copy_rx_pool.h"
#include "host_relay/virtio/relay_stats.h"
#include "host_relay/virtio/split_virtqueue.h"
#include "host_relay/virtio/vf_pmd.h"
#include "host_relay/virtio/virtio_net.h"
#include "spdlog/spdlog.h"

namespace nicswitch::relay {
namespace {

constexpr uint16_t kBurst = 32;
constexpr uint64_t kOfferedFeatures =
    (1ULL << kFeatureVersion1) | (1ULL << kFeatureMrgRxbuf) | (1ULL << kFeatureMq) |
    (1ULL << kFeatureCtrlVq) | (1ULL << kFeatureLogAll) | (1ULL << kFeatureCsum) |
    (1ULL << kFeatureGuestCsum) | (1ULL << kFeatureIndirectDesc) | (1ULL << kFeatureEventIdx) |
    (1ULL << kFeatureProtocolFeatures);

// Dirty-page logging for live migration through the vhost library (a no-op unless the
// frontend turned VHOST_F_LOG_ALL on).
class VhostDirtyLog : public DirtyLog {
 public:
  VhostDirtyLog(int vid, uint16_t vring) : vid_(vid), vring_(vring) {}
  void GuestWritten(uint64_t gpa, uint64_t len) override { rte_vhost_log_write(vid_, gpa, len); }
  void UsedWritten(uint64_t offset, uint64_t len) override {
    rte_vhost_log_used_vring(vid_, vring_, offset, len);
  }

 private:
  int vid_;
  uint16_t vring_;
};

// Completes the partial checksum a guest asked for (VIRTIO_NET_HDR_F_NEEDS_CSUM) in a copied
// packet: ones' complement sum from csum_start to the end, the field holding the pseudo-header.
void FinishChecksum(uint8_t* pkt, uint32_t len, const VirtioNetHeader& hdr) {
  const uint32_t field = uint32_t{hdr.csum_start} + hdr.csum_offset;
  if (hdr.csum_start >= len || field + 2 > len) {
    return;
  }
  uint16_t sum = rte_raw_cksum(pkt + hdr.csum_start, len - hdr.csum_start);
  uint16_t csum = static_cast<uint16_t>(~sum);
  if (csum == 0) {
    csum = 0xffff;
  }
  std::memcpy(pkt + field, &csum, 2);
}

}  // namespace

absl::Status ValidateRelayOptions(const RelayOptions& o) {
  if (o.socket_path.empty()) {
    return absl::InvalidArgumentError("socket: the vhost-user socket path is required");
  }
  if (o.vf.empty()) {
    return absl::InvalidArgumentError("vf: the VF (PCI address or vdev devargs) is required");
  }
  if (o.queue_pairs == 0 || o.queue_pairs > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue_pairs: ", o.queue_pairs, " is not in [1, 64]"));
  }
  if (o.vf_rx_ring_size == 0 || o.vf_tx_ring_size == 0) {
    return absl::InvalidArgumentError("vf_rx_ring_size / vf_tx_ring_size must be positive");
  }
  if (o.rx_buffer_size < 256 || o.rx_buffer_size > 16384) {
    return absl::InvalidArgumentError(
        absl::StrCat("rx_buffer_size: ", o.rx_buffer_size, " is not in [256, 16384]"));
  }
  if (o.max_frame < 64 || o.max_frame + RTE_PKTMBUF_HEADROOM > UINT16_MAX) {
    return absl::InvalidArgumentError(absl::StrCat("max_frame: ", o.max_frame, " is not in [64, ",
                                                   UINT16_MAX - RTE_PKTMBUF_HEADROOM, "]"));
  }
  return absl::OkStatus();
}

// One virtio queue pair (guest RX vring 2i, guest TX vring 2i+1) and VF queue i.
struct QueuePair {
  uint16_t index = 0;
  DirectionStats to_guest;    // VF -> guest
  DirectionStats from_guest;  // guest -> VF
  std::unique_ptr<ZeroCopyRxPool> zc_pool;

  bool rx_enabled = false;  // vring_state_changed for 2i / 2i+1
  bool tx_enabled = false;
  bool active = false;
  int vid = -1;
  std::unique_ptr<GuestMemory> memory;
  std::unique_ptr<SplitVirtqueue> rxq;
  std::unique_ptr<SplitVirtqueue> txq;
  std::unique_ptr<VhostDirtyLog> rx_log;
  std::unique_ptr<VhostDirtyLog> tx_log;
  int rx_kickfd = -1;
  int tx_kickfd = -1;
  bool rx_stalled = false;                // last VF RX poll skipped: too few guest RX buffers
  bool call_pending[2] = {false, false};  // guest interrupt owed (vring lock was busy)

  // TX zero copy: one shared-info per guest TX head (a head is in flight at most once).
  struct TxContext {
    QueuePair* pair;
    uint16_t head;
  };
  std::vector<rte_mbuf_ext_shared_info> tx_shinfo;
  std::vector<TxContext> tx_ctx;
  uint32_t tx_outstanding = 0;
};

class Relay::Impl {
 public:
  explicit Impl(const RelayOptions& o) : options_(o) {}
  ~Impl();

  absl::Status Init();
  absl::Status Run(const std::atomic<bool>& stop);
  std::string StatsText() const;
  void AddTelemetry(rte_tel_data* d) const;

  // vhost callbacks (vhost event thread): handed to the datapath thread and waited for.
  int OnNewDevice(int vid) { return Submit(Request{Request::kNew, vid, 0, false}); }
  void OnDestroyDevice(int vid) { Submit(Request{Request::kDestroy, vid, 0, false}); }
  int OnVringState(int vid, uint16_t q, int enable) {
    return Submit(Request{Request::kVring, vid, q, enable != 0});
  }
  int OnFeaturesChanged(int vid, uint64_t features) {
    return Submit(Request{Request::kFeatures, vid, 0, false, features});
  }

 private:
  struct Request {
    enum Kind { kNew, kDestroy, kVring, kFeatures } kind;
    int vid;
    uint16_t queue;
    bool enable;
    uint64_t features = 0;
  };
  // Dirty logging costs a library call per write: only while the frontend asked for it.
  void ApplyDirtyLogging(QueuePair& p);
  int Submit(const Request& r);
  void HandleRequests();
  void Handle(const Request& r);
  absl::Status Attach(QueuePair& p);
  void Detach(QueuePair& p);
  uint32_t PollRx(QueuePair& p);
  uint32_t PollTx(QueuePair& p);
  void Notify(QueuePair& p, SplitVirtqueue& q, uint16_t vring, DirectionStats& stats);
  void Sleep();
  void LogStats();
  // Once a second: when the VF's link has been down for two checks in a row (its far end went
  // away, e.g. the agent serving a memif VF restarted, or a PF reset), quiesce every active
  // queue pair exactly as for a vring disable, restart the port (a memif client reconnects
  // only at port start) and re-attach. Retried every second until the port starts.
  void WatchVfLink();
  static void TxFree(void* addr, void* opaque);

  RelayOptions options_;
  uint16_t port_ = 0;
  bool vf_offloads_csum_ = false;
  bool port_configured_ = false;
  rte_device* vf_device_ = nullptr;
  rte_mempool* copy_pool_ = nullptr;
  rte_mempool* txhdr_pool_ = nullptr;
  std::vector<std::unique_ptr<QueuePair>> pairs_;
  bool driver_registered_ = false;
  bool driver_started_ = false;
  int epoll_fd_ = -1;
  int control_fd_ = -1;

  // VF link watchdog, datapath thread only.
  uint64_t next_link_check_ = 0;
  int link_down_checks_ = 0;
  bool vf_restart_pending_ = false;

  // Device state, datapath thread only.
  int vid_ = -1;
  bool running_ = false;
  uint64_t features_ = 0;
  uint32_t hdr_len_ = kVirtioNetHeaderLen;

  // Control handshake between the vhost thread and the datapath thread.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, Request>> requests_;  // guarded by mu_
  uint64_t next_ticket_ = 0;                           // guarded by mu_
  uint64_t done_ticket_ = 0;                           // guarded by mu_
  bool datapath_running_ = false;                      // guarded by mu_
  std::atomic<bool> pending_{false};
  Counter busy_cycles_;
  Counter busy_rounds_;    // poll rounds that moved packets (packets / rounds = mean burst)
  uint32_t sleep_ms_ = 1;  // current idle back-off

  // iova mode va: guest memory registered with DPDK and DMA-mapped for the VF (IOVA == VA).
  struct DmaMapping {
    uint64_t addr;
    uint64_t len;
    bool dma_mapped;
  };
  absl::Status MapGuestMemoryForDma(const rte_vhost_memory& mem);
  void UnmapGuestMemoryForDma();
  std::vector<DmaMapping> dma_mappings_;
};

namespace {
Relay::Impl* g_relay = nullptr;  // vhost callbacks carry no context: one relay per process

int CbNewDevice(int vid) { return g_relay->OnNewDevice(vid); }
void CbDestroyDevice(int vid) { g_relay->OnDestroyDevice(vid); }
int CbVringState(int vid, uint16_t q, int enable) { return g_relay->OnVringState(vid, q, enable); }
int CbFeaturesChanged(int vid, uint64_t features) {
  return g_relay->OnFeaturesChanged(vid, features);
}

int TelemetryStats(const char*, const char*, rte_tel_data* d) {
  if (g_relay == nullptr) {
    return -1;
  }
  g_relay->AddTelemetry(d);
  return 0;
}

const rte_vhost_device_ops kVhostOps = {
    .new_device = CbNewDevice,
    .destroy_device = CbDestroyDevice,
    .vring_state_changed = CbVringState,
    .features_changed = CbFeaturesChanged,
    .new_connection = nullptr,
    .destroy_connection = nullptr,
    .guest_notified = nullptr,
    .reserved = {nullptr},
};
}  // namespace

absl::Status Relay::Impl::Init() {
  RETURN_IF_ERROR(ValidateRelayOptions(options_));
  // The VF: already probed by EAL (PCI allowlist, --vdev) or probed here from devargs.
  const std::string name = options_.vf.substr(0, options_.vf.find(','));
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_) != 0) {
    if (rte_dev_probe(options_.vf.c_str()) != 0 ||
        rte_eth_dev_get_port_by_name(name.c_str(), &port_) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("vf \"", options_.vf, "\": cannot probe it as a DPDK port"));
    }
  }
  rte_eth_dev_info info;
  if (rte_eth_dev_info_get(port_, &info) != 0) {
    return absl::InternalError(absl::StrCat("vf \"", name, "\": no device info"));
  }
  if (info.max_rx_queues < options_.queue_pairs || info.max_tx_queues < options_.queue_pairs) {
    return absl::InvalidArgumentError(
        absl::StrCat("queue_pairs: ", options_.queue_pairs, " but vf \"", name, "\" has ",
                     info.max_rx_queues, " RX / ", info.max_tx_queues, " TX queues"));
  }
  vf_device_ = info.device;
  if (options_.rx_zero_copy) {
    const ZeroCopyRxVerdict zc = ZeroCopyRxSupportOf(info.driver_name);
    if (zc.support == ZeroCopyRxSupport::kUnsupported) {
      spdlog::warn("vf \"{}\": RX zero copy off, copying instead: {}", name, zc.reason);
      options_.rx_zero_copy = false;
    } else if (zc.support == ZeroCopyRxSupport::kUnverified) {
      spdlog::warn("vf \"{}\": RX zero copy unverified: {}", name, zc.reason);
    } else {
      spdlog::info("vf \"{}\": RX zero copy: {}", name, zc.reason);
    }
  }
  vf_offloads_csum_ = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) &&
                      (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM);
  const int socket = rte_eth_dev_socket_id(port_) < 0 ? 0 : rte_eth_dev_socket_id(port_);
  copy_pool_ = rte_pktmbuf_pool_create("relay_copy", options_.pool_size, 256, 0,
                                       RTE_PKTMBUF_HEADROOM + options_.max_frame, socket);
  txhdr_pool_ = rte_pktmbuf_pool_create("relay_txhdr", options_.pool_size * 2, 256, 0, 0, socket);
  if (copy_pool_ == nullptr || txhdr_pool_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("mbuf pools: ", rte_strerror(rte_errno), " (give EAL more memory, -m)"));
  }
  rte_eth_conf conf = {};
  if (rte_eth_dev_configure(port_, options_.queue_pairs, options_.queue_pairs, &conf) != 0) {
    return absl::InternalError(absl::StrCat("vf \"", name, "\": configure failed"));
  }
  port_configured_ = true;
  for (uint16_t i = 0; i < options_.queue_pairs; ++i) {
    auto p = std::make_unique<QueuePair>();
    p->index = i;
    rte_mempool* rx_pool = copy_pool_;
    rte_eth_rxconf rxconf = info.default_rxconf;
    if (options_.rx_zero_copy) {
      // Sized like the VF ring: the PMD can hold at most that many guest buffers.
      // net_memif allocates a frame's segments one by one inside rx_burst and loses the frame
      // (leaking its first segments) when one allocation fails, so bursts on it are bounded to
      // what the guest's posted buffers can hold at the largest frame size. PMDs that allocate
      // all-or-nothing (net_null) or at refill (iavf-style) need no such reserve.
      const bool per_segment_alloc = std::strcmp(info.driver_name, "net_memif") == 0;
      ASSIGN_OR_RETURN(
          p->zc_pool,
          ZeroCopyRxPool::Create(
              absl::StrCat("relay_zc", i), options_.vf_rx_ring_size * 2u, options_.rx_buffer_size,
              per_segment_alloc ? options_.max_frame : options_.rx_buffer_size, socket));
      rx_pool = p->zc_pool->mempool();
      rxconf.rx_deferred_start = 1;  // started when the guest's RX ring is there
    }
    if (int rc =
            rte_eth_rx_queue_setup(port_, i, options_.vf_rx_ring_size, socket, &rxconf, rx_pool);
        rc != 0) {
      return absl::InternalError(absl::StrCat("vf rx queue ", i, " setup: ", rte_strerror(-rc)));
    }
    if (int rc = rte_eth_tx_queue_setup(port_, i, options_.vf_tx_ring_size, socket, nullptr);
        rc != 0) {
      return absl::InternalError(absl::StrCat("vf tx queue ", i, " setup: ", rte_strerror(-rc)));
    }
    pairs_.push_back(std::move(p));
  }
  if (int rc = rte_eth_dev_start(port_); rc != 0) {
    return absl::InternalError(absl::StrCat("vf \"", name, "\" start: ", rte_strerror(-rc)));
  }
  if (options_.rx_zero_copy) {
    for (auto& p : pairs_) {
      rte_eth_dev_rx_queue_stop(port_, p->index);  // PMDs that ignore deferred start
    }
  }

  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  control_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = control_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, control_fd_, &ev);

  const uint64_t flags = options_.client ? RTE_VHOST_USER_CLIENT : 0;
  if (rte_vhost_driver_register(options_.socket_path.c_str(), flags) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("socket \"", options_.socket_path, "\": cannot register vhost-user socket"));
  }
  driver_registered_ = true;
  // Setting the features is what makes the library leave the rings to us (external backend).
  if (rte_vhost_driver_set_features(options_.socket_path.c_str(), kOfferedFeatures) != 0 ||
      rte_vhost_driver_callback_register(options_.socket_path.c_str(), &kVhostOps) != 0) {
    return absl::InternalError("vhost driver: cannot set features / callbacks");
  }
  rte_telemetry_register_cmd("/nicswitch/relay/stats", TelemetryStats,
                             "Relay counters per queue pair and direction. No parameters.");
  return absl::OkStatus();
}

Relay::Impl::~Impl() {
  if (driver_registered_) {
    spdlog::info("shutdown: unregistering the vhost-user socket");
    rte_vhost_driver_unregister(options_.socket_path.c_str());
    spdlog::info("shutdown: vhost-user socket unregistered");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    datapath_running_ = false;
  }
  for (auto& p : pairs_) {
    if (p->active) {
      Detach(*p);
    }
  }
  if (port_configured_) {
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
    spdlog::info("shutdown: VF port closed");
  }
  pairs_.clear();  // zero-copy pools after the port is closed
  if (copy_pool_ != nullptr) {
    rte_mempool_free(copy_pool_);
  }
  if (txhdr_pool_ != nullptr) {
    rte_mempool_free(txhdr_pool_);
  }
  if (epoll_fd_ >= 0) {
    close(epoll_fd_);
  }
  if (control_fd_ >= 0) {
    close(control_fd_);
  }
  g_relay = nullptr;
}

int Relay::Impl::Submit(const Request& r) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!datapath_running_) {
    Handle(r);  // no datapath thread: handle it here, under the lock
    return 0;
  }
  const uint64_t ticket = ++next_ticket_;
  requests_.emplace_back(ticket, r);
  pending_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(control_fd_, &one, sizeof(one));
  // The datapath answers once the queues are quiesced / attached: the vhost library must not
  // reply to the frontend (e.g. GET_VRING_BASE) before the VF stopped touching guest memory.
  cv_.wait(lock, [&] { return done_ticket_ >= ticket || !datapath_running_; });
  return 0;
}

void Relay::Impl::HandleRequests() {
  std::lock_guard<std::mutex> lock(mu_);
  while (!requests_.empty()) {
    auto [ticket, r] = requests_.front();
    requests_.pop_front();
    Handle(r);
    done_ticket_ = ticket;
  }
  pending_.store(false, std::memory_order_relaxed);
  cv_.notify_all();
}

void Relay::Impl::Handle(const Request& r) {
  switch (r.kind) {
    case Request::kNew: {
      vid_ = r.vid;
      running_ = true;
      rte_vhost_get_negotiated_features(r.vid, &features_);
      hdr_len_ = (features_ & ((1ULL << kFeatureVersion1) | (1ULL << kFeatureMrgRxbuf)))
                     ? kVirtioNetHeaderLen
                     : kLegacyVirtioNetHeaderLen;
      spdlog::info("guest connected (vid {}): features 0x{:x}, {} vrings", r.vid, features_,
                   rte_vhost_get_vring_num(r.vid));
      for (auto& p : pairs_) {
        // Pair 0 is ready by definition of new_device; others once both vrings were enabled.
        if (p->index == 0 || (p->rx_enabled && p->tx_enabled)) {
          if (absl::Status s = Attach(*p); !s.ok()) {
            spdlog::error("queue pair {}: {}", p->index, s.ToString());
          }
        }
      }
      break;
    }
    case Request::kDestroy:
      for (auto& p : pairs_) {
        if (p->active) {
          Detach(*p);
        }
        p->rx_enabled = p->tx_enabled = false;
      }
      running_ = false;
      spdlog::info("guest disconnected (vid {})", r.vid);
      break;
    case Request::kFeatures:
      // VHOST_F_LOG_ALL is switched on and off around live migration.
      features_ = r.features;
      spdlog::info("guest features changed: 0x{:x} (dirty logging {})", features_,
                   (features_ & (1ULL << kFeatureLogAll)) ? "on" : "off");
      for (auto& p : pairs_) {
        if (p->active) {
          ApplyDirtyLogging(*p);
        }
      }
      break;
    case Request::kVring: {
      const uint16_t pair = r.queue / 2;
      if (pair >= pairs_.size()) {
        break;  // the guest may have more queues than we serve; they stay idle
      }
      QueuePair& p = *pairs_[pair];
      (r.queue % 2 == 0 ? p.rx_enabled : p.tx_enabled) = r.enable;
      if (!r.enable && p.active) {
        Detach(p);
      } else if (r.enable && running_ && !p.active && p.rx_enabled && p.tx_enabled) {
        if (absl::Status s = Attach(p); !s.ok()) {
          spdlog::error("queue pair {}: {}", p.index, s.ToString());
        }
      }
      break;
    }
  }
}

absl::Status Relay::Impl::Attach(QueuePair& p) {
  rte_vhost_memory* mem = nullptr;
  if (rte_vhost_get_mem_table(vid_, &mem) != 0 || mem == nullptr) {
    return absl::FailedPreconditionError("no guest memory table");
  }
  if (options_.iova_mode == IovaMode::kVa && dma_mappings_.empty()) {
    if (absl::Status s = MapGuestMemoryForDma(*mem); !s.ok()) {
      free(mem);
      return s;
    }
  }
  std::vector<GuestMemoryRegion> regions;
  for (uint32_t i = 0; i < mem->nregions; ++i) {
    regions.push_back(GuestMemoryRegion{mem->regions[i].guest_phys_addr, mem->regions[i].size,
                                        mem->regions[i].host_user_addr});
  }
  free(mem);
  ASSIGN_OR_RETURN(p.memory,
                   GuestMemory::Create(std::move(regions), options_.iova_mode, [](uint64_t va) {
                     const rte_iova_t iova = rte_mem_virt2iova(reinterpret_cast<void*>(va));
                     return iova == RTE_BAD_IOVA ? kBadIova : iova;
                   }));
  const uint16_t rx_vring = 2 * p.index;
  const uint16_t tx_vring = 2 * p.index + 1;
  rte_vhost_vring rx = {}, tx = {};
  uint16_t rx_avail = 0, rx_used = 0, tx_avail = 0, tx_used = 0;
  if (rte_vhost_get_vhost_vring(vid_, rx_vring, &rx) != 0 ||
      rte_vhost_get_vhost_vring(vid_, tx_vring, &tx) != 0 ||
      rte_vhost_get_vring_base(vid_, rx_vring, &rx_avail, &rx_used) != 0 ||
      rte_vhost_get_vring_base(vid_, tx_vring, &tx_avail, &tx_used) != 0) {
    return absl::FailedPreconditionError("vrings not available");
  }
  ASSIGN_OR_RETURN(p.rxq,
                   SplitVirtqueue::Create(VringAddresses{rx.desc, rx.avail, rx.used, rx.size},
                                          p.memory.get(), true, rx_avail, rx_used, &p.to_guest));
  ASSIGN_OR_RETURN(p.txq,
                   SplitVirtqueue::Create(VringAddresses{tx.desc, tx.avail, tx.used, tx.size},
                                          p.memory.get(), false, tx_avail, tx_used, &p.from_guest));
  p.vid = vid_;
  p.rx_log = std::make_unique<VhostDirtyLog>(vid_, rx_vring);
  p.tx_log = std::make_unique<VhostDirtyLog>(vid_, tx_vring);
  ApplyDirtyLogging(p);
  const bool event_idx = features_ & (1ULL << kFeatureEventIdx);
  p.rxq->set_event_idx(event_idx);
  p.txq->set_event_idx(event_idx);
  p.rxq->SetKickWanted(false);
  p.txq->SetKickWanted(false);
  p.tx_shinfo.assign(tx.size, rte_mbuf_ext_shared_info{});
  p.tx_ctx.assign(tx.size, QueuePair::TxContext{&p, 0});
  p.tx_outstanding = 0;
  p.rx_kickfd = rx.kickfd;
  p.tx_kickfd = tx.kickfd;
  for (int fd : {p.rx_kickfd, p.tx_kickfd}) {
    if (fd >= 0) {
      epoll_event ev = {};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    }
  }
  const bool mergeable = features_ & (1ULL << kFeatureMrgRxbuf);
  const bool guest_csum = features_ & (1ULL << kFeatureGuestCsum);
  if (p.zc_pool != nullptr) {
    if (rx.size < options_.vf_rx_ring_size) {
      spdlog::warn("queue pair {}: guest RX ring ({}) is smaller than the VF RX ring ({})", p.index,
                   rx.size, options_.vf_rx_ring_size);
    }
    p.zc_pool->Bind(p.rxq.get(), hdr_len_, mergeable, guest_csum, nullptr);
    ApplyDirtyLogging(p);
    const int rc = rte_eth_dev_rx_queue_start(port_, p.index);  // deferred start
    if (rc != 0 && rc != -ENOTSUP) {
      spdlog::warn("queue pair {}: VF RX queue start: {}", p.index, rte_strerror(-rc));
    }
  }
  p.active = true;
  spdlog::info(
      "queue pair {} active: rx ring {} (avail {}, used {}), tx ring {} (avail {}, used {})",
      p.index, rx.size, rx_avail, rx_used, tx.size, tx_avail, tx_used);
  return absl::OkStatus();
}

void Relay::Impl::ApplyDirtyLogging(QueuePair& p) {
  const bool on = features_ & (1ULL << kFeatureLogAll);
  p.rxq->set_dirty_log(on ? p.rx_log.get() : nullptr);
  p.txq->set_dirty_log(on ? p.tx_log.get() : nullptr);
  if (p.zc_pool != nullptr) {
    p.zc_pool->set_dirty_log(on ? p.rx_log.get() : nullptr);
  }
}

void Relay::Impl::Detach(QueuePair& p) {
  p.active = false;
  if (p.zc_pool != nullptr) {
    // Stop the VF queue first (the PMD frees what it holds back into the pool), then hand every
    // guest buffer the pool still has back to the guest: after this returns the VF never writes
    // into this guest memory again.
    p.zc_pool->Unbind();
    rte_eth_dev_rx_queue_stop(port_, p.index);
    if (const uint32_t held = p.zc_pool->ReclaimToGuest(); held > 0) {
      spdlog::error("queue pair {}: the VF still holds {} guest RX buffers after queue stop",
                    p.index, held);
    }
  }
  rte_eth_tx_done_cleanup(port_, p.index, 0);
  if (p.tx_outstanding > 0) {
    spdlog::error("queue pair {}: {} guest TX buffers still held by the VF", p.index,
                  p.tx_outstanding);
  }
  p.rxq->FlushUsed();
  p.txq->FlushUsed();
  if (running_ || vid_ >= 0) {
    rte_vhost_set_vring_base(p.vid, 2 * p.index, p.rxq->last_avail_idx(), p.rxq->used_shadow_idx());
    rte_vhost_set_vring_base(p.vid, 2 * p.index + 1, p.txq->last_avail_idx(),
                             p.txq->used_shadow_idx());
  }
  for (int fd : {p.rx_kickfd, p.tx_kickfd}) {
    if (fd >= 0) {
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    }
  }
  p.rx_kickfd = p.tx_kickfd = -1;
  spdlog::info("queue pair {} stopped: rx avail {} used {}, tx avail {} used {}", p.index,
               p.rxq->last_avail_idx(), p.rxq->used_shadow_idx(), p.txq->last_avail_idx(),
               p.txq->used_shadow_idx());
  if (p.tx_outstanding == 0) {
    p.rxq.reset();
    p.txq.reset();
    p.memory.reset();
  }
  bool any_active = false;
  for (const auto& other : pairs_) {
    any_active = any_active || other->active;
  }
  if (!any_active) {
    UnmapGuestMemoryForDma();  // the table may change before the next enable
  }
}

absl::Status Relay::Impl::MapGuestMemoryForDma(const rte_vhost_memory& mem) {
  rte_device* dev = vf_device_;
  for (uint32_t i = 0; i < mem.nregions; ++i) {
    const rte_vhost_mem_region& r = mem.regions[i];
    const uint64_t addr = reinterpret_cast<uint64_t>(r.mmap_addr);
    if (rte_extmem_register(r.mmap_addr, r.mmap_size, nullptr, 0, 4096) != 0 &&
        rte_errno != EEXIST) {
      UnmapGuestMemoryForDma();
      return absl::InternalError(absl::StrCat("iova mode va: cannot register guest memory 0x",
                                              absl::Hex(addr), "+0x", absl::Hex(r.mmap_size), ": ",
                                              rte_strerror(rte_errno)));
    }
    DmaMapping m{addr, r.mmap_size, false};
    if (rte_dev_dma_map(dev, r.mmap_addr, addr, r.mmap_size) == 0) {
      m.dma_mapped = true;
    } else if (rte_errno != ENOTSUP) {
      dma_mappings_.push_back(m);
      UnmapGuestMemoryForDma();
      return absl::InternalError(absl::StrCat("iova mode va: cannot DMA-map guest memory 0x",
                                              absl::Hex(addr),
                                              " for the VF: ", rte_strerror(rte_errno)));
    } else {
      // The VF's bus maps nothing (vdevs, or a PMD that maps registered memory itself).
      spdlog::warn("iova mode va: the VF's bus has no DMA map; relying on registration only");
    }
    dma_mappings_.push_back(m);
  }
  return absl::OkStatus();
}

void Relay::Impl::UnmapGuestMemoryForDma() {
  rte_device* dev = vf_device_;
  for (const DmaMapping& m : dma_mappings_) {
    void* addr = reinterpret_cast<void*>(m.addr);
    if (m.dma_mapped) {
      rte_dev_dma_unmap(dev, addr, m.addr, m.len);
    }
    rte_extmem_unregister(addr, m.len);
  }
  dma_mappings_.clear();
}

void Relay::Impl::Notify(QueuePair& p, SplitVirtqueue& q, uint16_t vring, DirectionStats& stats) {
  bool& pending = p.call_pending[vring & 1];
  const bool published = q.FlushUsed() > 0;
  if (pending || (published && q.GuestWantsInterrupt())) {
    // With EVENT_IDX the library repeats the used_event test against its own copy of the used
    // index, which an external backend must keep current (it only ever answers yes where the
    // test above did: its last signalled index is never newer).
    if (features_ & (1ULL << kFeatureEventIdx)) {
      rte_vhost_set_vring_base(p.vid, vring, q.last_avail_idx(), q.published_used_idx());
    }
    // Never block on the library's vring lock: the vhost thread holds it while it waits for
    // this thread in a callback (quiesce). If busy, the call is retried on the next poll.
    pending = rte_vhost_vring_call_nonblock(p.vid, vring) == -EAGAIN;
    if (!pending) {
      stats.notifications.Add(1);
    }
  }
}

uint32_t Relay::Impl::PollRx(QueuePair& p) {
  rte_mbuf* pkts[kBurst];
  const uint16_t burst = p.zc_pool != nullptr ? p.zc_pool->MaxBurst(kBurst) : kBurst;
  p.rx_stalled = burst == 0;
  if (burst == 0) {
    return 0;  // waiting for the guest to post RX buffers; the frames wait in the VF
  }
  const uint16_t n = rte_eth_rx_burst(port_, p.index, pkts, burst);
  const bool mergeable = features_ & (1ULL << kFeatureMrgRxbuf);
  if (p.zc_pool != nullptr) {
    p.zc_pool->CompleteBurst(pkts, n);
  }
  for (uint16_t i = 0; i < n && p.zc_pool == nullptr; ++i) {
    PacketFragment frags[kMaxChainSegments];
    int nfrags = 0;
    rte_mbuf* m = pkts[i];
    for (; m != nullptr && nfrags < kMaxChainSegments; m = m->next) {
      frags[nfrags++] = PacketFragment{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
    }
    VirtioNetHeader hdr;
    if ((features_ & (1ULL << kFeatureGuestCsum)) &&
        (pkts[i]->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) {
      hdr.flags = kNetHdrFlagDataValid;
    }
    if (m != nullptr) {
      p.to_guest.Drop(DropReason::kPacketTooLarge);
    } else {
      CopyPacketToGuest(*p.rxq, frags, nfrags, hdr, hdr_len_, mergeable, p.rxq->dirty_log());
    }
    rte_pktmbuf_free(pkts[i]);
  }
  if (n > 0) {
    Notify(p, *p.rxq, 2 * p.index, p.to_guest);
  }
  return n;
}

void Relay::Impl::TxFree(void*, void* opaque) {
  auto* ctx = static_cast<QueuePair::TxContext*>(opaque);
  QueuePair& p = *ctx->pair;
  p.txq->PushUsed(ctx->head, 0);
  --p.tx_outstanding;
}

uint32_t Relay::Impl::PollTx(QueuePair& p) {
  rte_mbuf* pkts[kBurst];
  uint32_t is_zc = 0;  // bit i: pkts[i] is zero copy
  uint16_t n = 0;
  DescriptorChain chain;
  DirectionStats& stats = p.from_guest;
  while (n < kBurst) {
    const auto st = p.txq->Pop(&chain);
    if (st == SplitVirtqueue::PopStatus::kEmpty) {
      break;
    }
    if (st == SplitVirtqueue::PopStatus::kRefused) {
      continue;
    }
    VirtioNetHeader hdr;
    if (options_.tx_zero_copy && !chain.indirect) {
      BufferSegment segs[kMaxChainSegments];
      const TxSegments s = PacketSegmentsFromGuest(chain, hdr_len_, &hdr, segs, options_.max_frame);
      if (s.error != DropReason::kCount) {
        stats.Drop(s.error);
        p.txq->PushUsed(chain.head, 0);
        continue;
      }
      bool dma_ok = !(hdr.flags & kNetHdrFlagNeedsCsum);  // the guest wants a checksum: copy
      uint64_t iovas[kMaxChainSegments];
      for (int k = 0; k < s.count && dma_ok; ++k) {
        iovas[k] = p.memory->SegmentIova(segs[k].gpa, segs[k].host, segs[k].len);
        dma_ok = iovas[k] != kBadIova && segs[k].len <= UINT16_MAX;
      }
      rte_mbuf* ms[kMaxChainSegments];
      if (dma_ok && rte_pktmbuf_alloc_bulk(txhdr_pool_, ms, s.count) == 0) {
        rte_mbuf_ext_shared_info* shinfo = &p.tx_shinfo[chain.head];
        p.tx_ctx[chain.head].head = chain.head;
        shinfo->free_cb = &Impl::TxFree;
        shinfo->fcb_opaque = &p.tx_ctx[chain.head];
        rte_mbuf_ext_refcnt_set(shinfo, static_cast<uint16_t>(s.count));
        for (int k = 0; k < s.count; ++k) {
          rte_pktmbuf_attach_extbuf(ms[k], segs[k].host, iovas[k],
                                    static_cast<uint16_t>(segs[k].len), shinfo);
          ms[k]->data_len = static_cast<uint16_t>(segs[k].len);
          ms[k]->next = k + 1 < s.count ? ms[k + 1] : nullptr;
        }
        ms[0]->nb_segs = static_cast<uint16_t>(s.count);
        ms[0]->pkt_len = s.len;
        ++p.tx_outstanding;
        is_zc |= 1u << n;
        pkts[n++] = ms[0];
        continue;
      }
    }
    rte_mbuf* m = rte_pktmbuf_alloc(copy_pool_);
    if (m == nullptr) {
      stats.Drop(DropReason::kNoMbuf);
      p.txq->PushUsed(chain.head, 0);
      continue;
    }
    const TxGather g = CopyPacketFromGuest(chain, hdr_len_, &hdr, rte_pktmbuf_mtod(m, uint8_t*),
                                           options_.max_frame);
    p.txq->PushUsed(chain.head, 0);
    if (g.error != DropReason::kCount) {
      stats.Drop(g.error);
      rte_pktmbuf_free(m);
      continue;
    }
    if (hdr.flags & kNetHdrFlagNeedsCsum) {
      FinishChecksum(rte_pktmbuf_mtod(m, uint8_t*), g.len, hdr);
    }
    m->data_len = static_cast<uint16_t>(g.len);
    m->pkt_len = g.len;
    pkts[n++] = m;
  }
  if (n > 0) {
    const uint16_t sent = rte_eth_tx_burst(port_, p.index, pkts, n);
    for (uint16_t i = 0; i < sent; ++i) {
      stats.packets.Add(1);
      stats.bytes.Add(pkts[i]->pkt_len);
      ((is_zc >> i) & 1 ? stats.zero_copy : stats.copied).Add(1);
    }
    if (sent < n) {
      stats.Drop(DropReason::kVfTxFull, n - sent);
      rte_pktmbuf_free_bulk(pkts + sent, n - sent);  // zero copy: returns the guest buffers
    }
  }
  Notify(p, *p.txq, 2 * p.index + 1, p.from_guest);  // completions may come from earlier bursts
  return n;
}

void Relay::Impl::Sleep() {
  // Ask the guest to kick, re-check (a packet may have been added before it saw the flag),
  // then sleep on the kick fds and the control fd, bounded (the VF RX has no interrupt here).
  bool work = false;
  for (auto& p : pairs_) {
    if (p->active) {
      p->txq->SetKickWanted(true);
      p->rxq->SetKickWanted(true);
      work = work || p->txq->Pending() > 0;
      // Stalled on guest RX buffers that were posted before it saw the kick request.
      work = work || (p->rx_stalled && p->zc_pool->MaxBurst(kBurst, false) > 0);
    }
  }
  if (!work && !pending_.load(std::memory_order_acquire)) {
    epoll_event events[16];
    // Back off: 1, 2, 4 ... up to idle_sleep_ms while nothing happens (kicks wake us at once).
    const int n = epoll_wait(epoll_fd_, events, 16, static_cast<int>(sleep_ms_));
    sleep_ms_ = std::min<uint32_t>(sleep_ms_ * 2, std::max<uint32_t>(options_.idle_sleep_ms, 1));
    for (int i = 0; i < n; ++i) {
      uint64_t value;
      [[maybe_unused]] ssize_t r = read(events[i].data.fd, &value, sizeof(value));
    }
  }
  for (auto& p : pairs_) {
    if (p->active) {
      p->txq->SetKickWanted(false);
      p->rxq->SetKickWanted(false);
    }
  }
}

absl::Status Relay::Impl::Run(const std::atomic<bool>& stop) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    datapath_running_ = true;
  }
  if (!driver_started_) {
    if (rte_vhost_driver_start(options_.socket_path.c_str()) != 0) {
      std::lock_guard<std::mutex> lock(mu_);
      datapath_running_ = false;
      return absl::InternalError(
          absl::StrCat("socket \"", options_.socket_path, "\": cannot start vhost-user driver"));
    }
    driver_started_ = true;
  }
  spdlog::info(
      "relay serving {} ({} mode), vf port {}, {} queue pair(s), rx zero copy {}, tx "
      "zero copy {}, iova {}",
      options_.socket_path, options_.client ? "client" : "server", port_, options_.queue_pairs,
      options_.rx_zero_copy ? "on" : "off", options_.tx_zero_copy ? "on" : "off",
      std::string(IovaModeName(options_.iova_mode)));
  uint64_t idle = 0;
  const uint64_t tsc_hz = rte_get_tsc_hz();
  uint64_t next_log = rte_get_tsc_cycles() + options_.stats_interval_s * tsc_hz;
  while (!stop.load(std::memory_order_relaxed)) {
    if (pending_.load(std::memory_order_acquire)) {
      HandleRequests();
    }
    if (rte_get_tsc_cycles() > next_link_check_) {
      WatchVfLink();
      next_link_check_ = rte_get_tsc_cycles() + tsc_hz;
    }
    uint32_t work = 0;
    const uint64_t t0 = rte_rdtsc();
    for (auto& p : pairs_) {
      if (p->active) {
        work += PollRx(*p);
        work += PollTx(*p);
      }
    }
    if (work > 0) {
      busy_cycles_.Add(rte_rdtsc() - t0);  // cycles of rounds that moved packets
      busy_rounds_.Add(1);
      idle = 0;
      sleep_ms_ = 1;
    } else if (++idle > options_.busy_polls_before_sleep) {
      Sleep();
      idle = options_.busy_polls_before_sleep;  // one more poll round, then sleep again
      if (options_.stats_interval_s > 0 && rte_get_tsc_cycles() > next_log) {
        LogStats();
        next_log = rte_get_tsc_cycles() + options_.stats_interval_s * tsc_hz;
      }
    }
    if (options_.stats_interval_s > 0 && work > 0 && rte_get_tsc_cycles() > next_log) {
      LogStats();
      next_log = rte_get_tsc_cycles() + options_.stats_interval_s * tsc_hz;
    }
  }
  spdlog::info("shutdown: stop requested");
  {
    std::lock_guard<std::mutex> lock(mu_);
    while (!requests_.empty()) {
      Handle(requests_.front().second);
      done_ticket_ = requests_.front().first;
      requests_.pop_front();
    }
    datapath_running_ = false;
  }
  cv_.notify_all();
  LogStats();
  return absl::OkStatus();
}

void Relay::Impl::WatchVfLink() {
  rte_eth_link link = {};
  if (rte_eth_link_get_nowait(port_, &link) != 0) {
    return;
  }
  if (link.link_status == RTE_ETH_LINK_UP && !vf_restart_pending_) {
    link_down_checks_ = 0;
    return;
  }
  if (!vf_restart_pending_ && ++link_down_checks_ < 2) {
    return;
  }
  if (!vf_restart_pending_) {
    spdlog::warn("VF port {}: link down; restarting the port to reconnect", port_);
    for (auto& p : pairs_) {
      if (p->active) {
        Detach(*p);
      }
    }
    vf_restart_pending_ = true;
  }
  rte_eth_dev_stop(port_);
  const int rc = rte_eth_dev_start(port_);
  if (rc != 0) {
    spdlog::debug("VF port {}: start failed ({}); retrying", port_, rte_strerror(-rc));
    return;
  }
  vf_restart_pending_ = false;
  link_down_checks_ = 0;
  // Re-attach what the guest still has enabled, by the same rule as new_device (a vring
  // disable meanwhile keeps a pair detached); a pair attached during the outage gets its
  // deferred VF RX queue started now.
  for (auto& p : pairs_) {
    if (p->active) {
      if (p->zc_pool != nullptr) {
        rte_eth_dev_rx_queue_start(port_, p->index);
      }
    } else if (running_ && (p->index == 0 || (p->rx_enabled && p->tx_enabled))) {
      if (absl::Status st = Attach(*p); !st.ok()) {
        spdlog::error("queue pair {}: re-attach after VF restart: {}", p->index, st.ToString());
      }
    }
  }
  spdlog::info("VF port {}: restarted", port_);
}

void Relay::Impl::LogStats() {
  for (const auto& p : pairs_) {
    spdlog::info(
        "stats q{}: to_guest pkts={} bytes={} zc={} copied={} moved={} drops={} stalls={} | "
        "from_guest pkts={} bytes={} zc={} copied={} drops={}",
        p->index, p->to_guest.packets.Get(), p->to_guest.bytes.Get(), p->to_guest.zero_copy.Get(),
        p->to_guest.copied.Get(), p->to_guest.moved.Get(), p->to_guest.TotalDrops(),
        p->zc_pool ? p->zc_pool->stalls() : 0, p->from_guest.packets.Get(),
        p->from_guest.bytes.Get(), p->from_guest.zero_copy.Get(), p->from_guest.copied.Get(),
        p->from_guest.TotalDrops());
  }
}

std::string Relay::Impl::StatsText() const {
  std::string out =
      absl::StrCat("datapath busy_cycles=", busy_cycles_.Get(), " busy_rounds=", busy_rounds_.Get(),
                   " tsc_hz=", rte_get_tsc_hz(), "\n");
  for (const auto& p : pairs_) {
    for (int dir = 0; dir < 2; ++dir) {
      const DirectionStats& s = dir == 0 ? p->to_guest : p->from_guest;
      absl::StrAppend(&out, "q", p->index, dir == 0 ? " to_guest" : " from_guest",
                      " packets=", s.packets.Get(), " bytes=", s.bytes.Get(),
                      " zero_copy=", s.zero_copy.Get(), " copied=", s.copied.Get(),
                      " moved=", s.moved.Get());
      if (dir == 0) {
        absl::StrAppend(&out, " no_guest_buffer_stalls=", p->zc_pool ? p->zc_pool->stalls() : 0);
      }
      for (int r = 0; r < kNumDropReasons; ++r) {
        if (s.drops[r].Get() > 0) {
          absl::StrAppend(&out, " drop_", DropReasonName(static_cast<DropReason>(r)), "=",
                          s.drops[r].Get());
        }
      }
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

void Relay::Impl::AddTelemetry(rte_tel_data* d) const {
  // Telemetry thread: reads the datapath's relaxed counters only.
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "datapath_busy_cycles", busy_cycles_.Get());
  rte_tel_data_add_dict_u64(d, "datapath_busy_rounds", busy_rounds_.Get());
  for (const auto& p : pairs_) {
    for (int dir = 0; dir < 2; ++dir) {
      const DirectionStats& s = dir == 0 ? p->to_guest : p->from_guest;
      const std::string prefix =
          absl::StrCat("q", p->index, dir == 0 ? "_to_guest_" : "_from_guest_");
      auto add = [&](const char* name, uint64_t v) {
        rte_tel_data_add_dict_u64(d, absl::StrCat(prefix, name).c_str(), v);
      };
      add("packets", s.packets.Get());
      add("bytes", s.bytes.Get());
      add("zero_copy", s.zero_copy.Get());
      add("copied", s.copied.Get());
      add("moved", s.moved.Get());
      add("notifications", s.notifications.Get());
      for (int r = 0; r < kNumDropReasons; ++r) {
        add(absl::StrCat("drop_", DropReasonName(static_cast<DropReason>(r))).c_str(),
            s.drops[r].Get());
      }
      if (dir == 0) {
        add("no_guest_buffer_stalls", p->zc_pool ? p->zc_pool->stalls() : 0);
      }
    }
  }
}

absl::StatusOr<std::unique_ptr<Relay>> Relay::Create(const RelayOptions& options) {
  if (g_relay != nullptr) {
    return absl::FailedPreconditionError("one relay per process");
  }
  auto impl = std::make_unique<Impl>(options);
  g_relay = impl.get();
  if (absl::Status s = impl->Init(); !s.ok()) {
    return s;
  }
  return std::unique_ptr<Relay>(new Relay(std::move(impl)));
}

Relay::Relay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Relay::~Relay() = default;
absl::Status Relay::Run(const std::atomic<bool>& stop) { return impl_->Run(stop); }
std::string Relay::StatsText() const { return impl_->StatsText(); }

}  // namespace nicswitch::relay
