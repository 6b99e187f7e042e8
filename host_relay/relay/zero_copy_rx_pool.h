#pragma once

// Internal to the relay (includes DPDK headers): the VF RX mempool whose buffers are the
// guest's posted RX descriptors.

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "host_relay/virtio/split_virtqueue.h"
#include "host_relay/virtio/virtio_net.h"

namespace nicswitch::relay {

// A mempool of bare mbuf headers (custom rte_mempool_ops "nicswitch_zc_rx", cache size 0) for
// one VF RX queue. Its dequeue takes the next chains the guest posted on the bound virtio RX
// queue and points each mbuf at one: a chain that is a single DMA-able buffer of at least
// hdr_len + data room gets buf_addr/buf_iova = buffer + hdr_len - RTE_PKTMBUF_HEADROOM, so the
// PMD writes the packet straight after the virtio-net header (zero copy); any other chain is
// bound to a relay-owned bounce buffer and copied on completion. So VF RX descriptors map 1:1
// onto virtio RX descriptors.
//
// Threading: dequeue/enqueue run inside the PMD's rx_burst / queue start / stop, which the
// relay calls only from its datapath thread; Bind/Unbind/Complete/Reclaim run there too.
class ZeroCopyRxPool {
 public:
  // `data_room`: packet bytes per buffer (excluding headroom); guest buffers smaller than
  // hdr_len + data_room take the bounce path. `size`: number of mbuf headers. `max_frame`: the
  // largest frame the VF may deliver (see MaxBurst).
  static absl::StatusOr<std::unique_ptr<ZeroCopyRxPool>> Create(const std::string& name,
                                                                uint32_t size, uint16_t data_room,
                                                                uint32_t max_frame, int socket_id);
  ~ZeroCopyRxPool();

  rte_mempool* mempool() const { return mp_; }

  // Binds the pool to a guest RX queue (until Unbind): dequeues take chains from it.
  void Bind(SplitVirtqueue* rxq, uint32_t hdr_len, bool mergeable, bool guest_csum, DirtyLog* log);
  // Stops handing out buffers. Chains still bound to mbufs the PMD holds stay bound until
  // the PMD frees them (queue stop) and then go to the spare list.
  void Unbind();

  // Delivers a received packet (possibly a chain of mbufs from this pool) to the guest: header,
  // continuation moves, bounce copies, used entries (not flushed). Frees the mbuf. Returns
  // true when delivered; false when dropped (counted; its chains are kept for reuse).
  bool Complete(rte_mbuf* pkt);
  // Complete() for a received burst, faster: first prefetches for writing the guest lines the
  // burst will write (the virtio-net headers, used ring entries: lines the guest's core last
  // held, so their transfers overlap instead of stalling one packet at a time), then completes
  // each packet and adds the counters once. Returns how many packets were delivered.
  uint16_t CompleteBurst(rte_mbuf* const* pkts, uint16_t n);

  // Returns every chain the pool holds but the PMD does not (the spare list) to the guest as
  // used entries of length 0, then flushes. Returns how many chains the PMD still holds (not
  // reclaimable: the caller must stop the VF queue first).
  uint32_t ReclaimToGuest();

  // How many packets an rx_burst may ask for so that no frame can run out of buffers midway:
  // PMDs that allocate segment by segment (net_memif) drop the rest of a frame and leak its
  // first segments when an allocation fails mid-frame. 0 (counted as a stall) when the guest
  // has not posted enough buffers for one maximum-size frame.
  uint16_t MaxBurst(uint16_t burst, bool count_stall = true);

  void set_dirty_log(DirtyLog* log) { log_ = log; }

  uint64_t stalls() const { return stalls_; }  // dequeues that found no guest buffer
  uint32_t size() const { return size_; }

 private:
  enum class State : uint8_t { kFree, kBound, kDelivered };
  struct Slot {
    State state = State::kFree;
    bool zero_copy = false;
    uint32_t generation = 0;
    DescriptorChain chain;
  };
  static constexpr uint32_t kMagic = 0x5a43524e;  // "NRCZ"
  struct Priv {
    uint32_t magic;
    uint32_t index;
  };

  ZeroCopyRxPool() = default;
  static int OpsAlloc(rte_mempool* mp);
  static void OpsFree(rte_mempool* mp);
  static int OpsEnqueue(rte_mempool* mp, void* const* objs, unsigned n);
  static int OpsDequeue(rte_mempool* mp, void** objs, unsigned n);
  static unsigned OpsGetCount(const rte_mempool* mp);
  static void RegisterOps();
  int Dequeue(void** objs, unsigned n);
  void Enqueue(void* const* objs, unsigned n);
  bool TakeChain(DescriptorChain* chain);  // the spare list first, then the guest's ring
  bool PopFromGuest(DescriptorChain* chain);
  // The common case of Complete without the counters: a one-segment packet the VF wrote
  // straight into a bound guest buffer. Returns false (nothing done) for anything else.
  bool CompleteZeroCopy(rte_mbuf* pkt);
  void PushSpare(const DescriptorChain& chain);
  static Priv* PrivOf(rte_mbuf* m) { return static_cast<Priv*>(rte_mbuf_to_priv(m)); }

  std::string name_;
  rte_mempool* mp_ = nullptr;
  rte_mempool* bounce_mp_ = nullptr;
  uint32_t size_ = 0;
  uint16_t data_room_ = 0;
  uint32_t reserve_ = 0;  // further buffers one maximum-size frame may need
  bool initialized_ = false;
  std::vector<void*> free_;  // free object stack
  std::vector<Slot> slots_;
  std::vector<rte_mbuf*> objects_;
  std::vector<rte_mbuf*> bounce_;       // bounce buffer of slot i
  std::vector<DescriptorChain> spare_;  // chains taken from the guest but not in use (FIFO)
  uint32_t spare_head_ = 0;
  uint32_t spare_count_ = 0;
  SplitVirtqueue* rxq_ = nullptr;
  uint32_t hdr_len_ = kVirtioNetHeaderLen;
  bool mergeable_ = true;
  bool guest_csum_ = false;
  DirtyLog* log_ = nullptr;
  uint64_t stalls_ = 0;
  bool accepting_ = false;
  uint32_t generation_ = 0;
};

}  // namespace nicswitch::relay
