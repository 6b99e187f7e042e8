#include "host_relay/virtio/virtio_net.h"

#include <algorithm>
#include <cstring>

namespace nicswitch::relay {
namespace {

void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
uint16_t Get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

void WriteChain(const DescriptorChain& chain, uint32_t offset, const uint8_t* src, uint32_t len,
                DirtyLog* log) {
  for (int i = 0; i < chain.num_segments && len > 0; ++i) {
    const BufferSegment& s = chain.segments[i];
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    const uint32_t n = std::min(len, s.len - offset);
    std::memcpy(s.host + offset, src, n);
    if (log != nullptr) {
      log->GuestWritten(s.gpa + offset, n);
    }
    src += n;
    len -= n;
    offset = 0;
  }
}

namespace {

// Reads `len` bytes at `offset` of the chain into `dst` (the chain holds at least that much).
void ReadChain(const DescriptorChain& chain, uint32_t offset, uint8_t* dst, uint32_t len) {
  for (int i = 0; i < chain.num_segments && len > 0; ++i) {
    const BufferSegment& s = chain.segments[i];
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    const uint32_t n = std::min(len, s.len - offset);
    std::memcpy(dst, s.host + offset, n);
    dst += n;
    len -= n;
    offset = 0;
  }
}

}  // namespace

void EncodeVirtioNetHeader(const VirtioNetHeader& hdr, uint32_t hdr_len, uint8_t* out) {
  out[0] = hdr.flags;
  out[1] = hdr.gso_type;
  Put16(out + 2, hdr.hdr_len);
  Put16(out + 4, hdr.gso_size);
  Put16(out + 6, hdr.csum_start);
  Put16(out + 8, hdr.csum_offset);
  if (hdr_len >= kVirtioNetHeaderLen) {
    Put16(out + 10, hdr.num_buffers);
  }
}

VirtioNetHeader DecodeVirtioNetHeader(const uint8_t* in, uint32_t hdr_len) {
  VirtioNetHeader hdr;
  hdr.flags = in[0];
  hdr.gso_type = in[1];
  hdr.hdr_len = Get16(in + 2);
  hdr.gso_size = Get16(in + 4);
  hdr.csum_start = Get16(in + 6);
  hdr.csum_offset = Get16(in + 8);
  if (hdr_len >= kVirtioNetHeaderLen) {
    hdr.num_buffers = Get16(in + 10);
  }
  return hdr;
}

bool CopyPacketToGuest(SplitVirtqueue& rxq, const PacketFragment* fragments, int num_fragments,
                       VirtioNetHeader hdr, uint32_t hdr_len, bool mergeable, DirtyLog* log) {
  DirectionStats& stats = rxq.stats();
  const uint16_t avail_mark = rxq.last_avail_idx();
  const uint16_t used_mark = rxq.used_shadow_idx();
  uint32_t pkt_len = 0;
  for (int i = 0; i < num_fragments; ++i) {
    pkt_len += fragments[i].len;
  }
  DescriptorChain first;
  DescriptorChain next;
  DescriptorChain* cur = &first;
  int frag = 0;
  uint32_t frag_off = 0;
  uint32_t left = pkt_len;
  uint16_t buffers = 0;
  for (;;) {
    SplitVirtqueue::PopStatus st;
    while ((st = rxq.Pop(cur)) == SplitVirtqueue::PopStatus::kRefused) {
    }
    if (st == SplitVirtqueue::PopStatus::kEmpty) {
      // Not enough buffers: give back every chain this packet took. Chains refused meanwhile
      // lose their used entries too; they are re-read and refused again on the next attempt,
      // which keeps the ring consistent.
      rxq.Rewind(avail_mark, used_mark);
      stats.Drop(DropReason::kNoGuestBuffer);
      return false;
    }
    // Offset in this chain where packet bytes start.
    uint32_t off = buffers == 0 ? hdr_len : 0;
    if (cur->total_len < off || (!mergeable && cur->total_len - off < pkt_len)) {
      // Only ever the packet's first chain: return it unused and drop the packet.
      rxq.PushUsed(cur->head, 0);
      stats.Drop(DropReason::kGuestBufferTooSmall);
      return false;
    }
    uint32_t room = cur->total_len - off;
    while (room > 0 && left > 0) {
      const PacketFragment& f = fragments[frag];
      const uint32_t n = std::min(room, f.len - frag_off);
      WriteChain(*cur, off, f.data + frag_off, n, log);
      off += n;
      room -= n;
      left -= n;
      frag_off += n;
      if (frag_off == f.len) {
        ++frag;
        frag_off = 0;
      }
    }
    ++buffers;
    const uint32_t used_len = off;
    rxq.PushUsed(cur->head, used_len);
    if (left == 0) {
      break;
    }
    if (!mergeable || buffers == UINT16_MAX) {
      rxq.Rewind(avail_mark, used_mark);
      stats.Drop(DropReason::kGuestBufferTooSmall);
      return false;
    }
    cur = &next;
  }
  hdr.num_buffers = mergeable ? buffers : 0;
  uint8_t raw[kVirtioNetHeaderLen];
  EncodeVirtioNetHeader(hdr, hdr_len, raw);
  WriteChain(first, 0, raw, hdr_len, log);
  stats.packets.Add(1);
  stats.bytes.Add(pkt_len);
  stats.copied.Add(1);
  return true;
}

TxGather CopyPacketFromGuest(const DescriptorChain& chain, uint32_t hdr_len, VirtioNetHeader* hdr,
                             uint8_t* dst, uint32_t cap) {
  TxGather out;
  if (chain.total_len < hdr_len + kEthernetHeaderLen) {
    out.error = DropReason::kTxPacketTooShort;
    return out;
  }
  const uint32_t len = chain.total_len - hdr_len;
  if (len > cap) {
    out.error = DropReason::kPacketTooLarge;
    return out;
  }
  uint8_t raw[kVirtioNetHeaderLen];
  ReadChain(chain, 0, raw, hdr_len);
  *hdr = DecodeVirtioNetHeader(raw, hdr_len);
  ReadChain(chain, hdr_len, dst, len);
  out.len = len;
  return out;
}

TxSegments PacketSegmentsFromGuest(const DescriptorChain& chain, uint32_t hdr_len,
                                   VirtioNetHeader* hdr, BufferSegment* out, uint32_t max_len) {
  TxSegments result;
  if (chain.total_len < hdr_len + kEthernetHeaderLen) {
    result.error = DropReason::kTxPacketTooShort;
    return result;
  }
  if (chain.total_len - hdr_len > max_len) {
    result.error = DropReason::kPacketTooLarge;
    return result;
  }
  uint8_t raw[kVirtioNetHeaderLen];
  ReadChain(chain, 0, raw, hdr_len);
  *hdr = DecodeVirtioNetHeader(raw, hdr_len);
  uint32_t skip = hdr_len;
  for (int i = 0; i < chain.num_segments; ++i) {
    BufferSegment s = chain.segments[i];
    if (skip >= s.len) {
      skip -= s.len;
      continue;
    }
    s.host += skip;
    s.gpa += skip;
    s.len -= skip;
    skip = 0;
    out[result.count++] = s;
  }
  result.len = chain.total_len - hdr_len;
  return result;
}

}  // namespace nicswitch::relay
