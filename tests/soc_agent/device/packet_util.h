#pragma once

// Test helpers: frames built byte by byte, ring-backed ethdevs the test can feed and drain.

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace nicswitch::device::testing {

using Bytes = std::vector<uint8_t>;

struct Udp4 {
  uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
  uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
  uint32_t src_ip = 0x0a000001;  // host order
  uint32_t dst_ip = 0x0a000002;
  uint16_t src_port = 1000;
  uint16_t dst_port = 2000;
  uint8_t ttl = 64;
  size_t payload = 18;  // 14 + 20 + 8 + 18 = 60 bytes
};

inline void Put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}
inline void Put32(Bytes& b, size_t off, uint32_t v) {
  Put16(b, off, static_cast<uint16_t>(v >> 16));
  Put16(b, off + 2, static_cast<uint16_t>(v));
}

// Ethernet / IPv4 (checksum right) / UDP (checksum 0) / payload of incrementing bytes.
inline Bytes BuildUdp4(const Udp4& p) {
  Bytes b(14 + 20 + 8 + p.payload, 0);
  std::memcpy(b.data(), p.dst_mac, 6);
  std::memcpy(b.data() + 6, p.src_mac, 6);
  Put16(b, 12, 0x0800);
  b[14] = 0x45;
  Put16(b, 16, static_cast<uint16_t>(20 + 8 + p.payload));
  b[22] = p.ttl;
  b[23] = 17;
  Put32(b, 26, p.src_ip);
  Put32(b, 30, p.dst_ip);
  const uint16_t ck = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(b.data() + 14));
  std::memcpy(b.data() + 24, &ck, 2);
  Put16(b, 34, p.src_port);
  Put16(b, 36, p.dst_port);
  Put16(b, 38, static_cast<uint16_t>(8 + p.payload));
  for (size_t i = 0; i < p.payload; ++i) {
    b[42 + i] = static_cast<uint8_t>(i);
  }
  return b;
}

// Outer Ethernet / IPv4 / UDP(4789) / VXLAN(vni) around `inner`.
inline Bytes BuildVxlan4(const Bytes& inner, uint32_t vni, uint32_t src_ip, uint32_t dst_ip) {
  Bytes b(14 + 20 + 8 + 8, 0);
  const uint8_t dmac[6] = {0x02, 0, 0, 0, 0xaa, 0x01};
  const uint8_t smac[6] = {0x02, 0, 0, 0, 0xaa, 0x02};
  std::memcpy(b.data(), dmac, 6);
  std::memcpy(b.data() + 6, smac, 6);
  Put16(b, 12, 0x0800);
  b[14] = 0x45;
  Put16(b, 16, static_cast<uint16_t>(20 + 8 + 8 + inner.size()));
  b[22] = 64;
  b[23] = 17;
  Put32(b, 26, src_ip);
  Put32(b, 30, dst_ip);
  const uint16_t ck = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(b.data() + 14));
  std::memcpy(b.data() + 24, &ck, 2);
  Put16(b, 34, 55555);
  Put16(b, 36, 4789);
  Put16(b, 38, static_cast<uint16_t>(8 + 8 + inner.size()));
  b[42] = 0x08;
  b[46] = static_cast<uint8_t>(vni >> 16);
  b[47] = static_cast<uint8_t>(vni >> 8);
  b[48] = static_cast<uint8_t>(vni);
  b.insert(b.end(), inner.begin(), inner.end());
  return b;
}

inline rte_mbuf* ToMbuf(rte_mempool* pool, const Bytes& bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) {
    return nullptr;
  }
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size()));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(p, bytes.data(), bytes.size());
  return m;
}

inline Bytes FromMbuf(const rte_mbuf* m) {
  Bytes b(m->pkt_len);
  const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, b.data());
  if (p != b.data()) {
    std::memcpy(b.data(), p, m->pkt_len);
  }
  return b;
}

// An ethdev backed by two rings: the test enqueues what the port "receives" into `inject` and
// dequeues what the port transmitted from `capture`.
struct RingPort {
  std::string name;
  rte_ring* inject = nullptr;
  rte_ring* capture = nullptr;
  int port_id = -1;

  static RingPort Make(const std::string& name, unsigned size = 4096) {
    RingPort p;
    p.name = name;
    p.inject = rte_ring_create((name + "_in").c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.capture = rte_ring_create((name + "_out").c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    p.port_id = rte_eth_from_rings(name.c_str(), &p.inject, 1, &p.capture, 1, 0);
    return p;
  }
  bool Inject(rte_mbuf* m) const { return rte_ring_enqueue(inject, m) == 0; }
  // Everything transmitted so far, as bytes (mbufs freed).
  std::vector<Bytes> Drain() const {
    std::vector<Bytes> out;
    void* obj;
    while (rte_ring_dequeue(capture, &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      out.push_back(FromMbuf(m));
      rte_pktmbuf_free(m);
    }
    return out;
  }
};

}  // namespace nicswitch::device::testing
