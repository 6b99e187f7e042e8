// libFuzzer target: the slow path's packet parser on arbitrary bytes (an exception packet is
// whatever a guest or the wire sent).
#include <cstdint>
#include <vector>

#include "soc_agent/slowpath/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into an exact-size heap buffer so ASan sees any overread.
  std::vector<uint8_t> frame(data, data + size);
  auto packet = nicswitch::slowpath::ParsePacket(frame.data(), frame.size());
  if (packet.ok()) {
    const auto& p = *packet;
    if (p.outer.l4_offset > size || (p.vni && p.inner_offset > size)) {
      __builtin_trap();  // offsets must stay inside the frame
    }
    (void)nicswitch::slowpath::VxlanSourcePort(p.vni ? p.inner : p.outer);
  }
  return 0;
}
