// Fuzzes ParseRteFlow with arrays decoded from the input: known and unknown item/action types,
// spec/mask/last either NULL or pointing to a zero-padded buffer larger than any item struct,
// conf NULL or such a buffer, and VXLAN_ENCAP definitions built the same way. Whatever parses
// must compile and parse back to the same rule, and render to testpmd text that parses back.
#include <rte_flow.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "flowrules/rte_flow.h"
#include "flowrules/testpmd.h"

namespace {

using nicswitch::flowrules::CompiledRule;
using nicswitch::flowrules::ParseRteFlow;
using nicswitch::flowrules::ParseTestpmd;
using nicswitch::flowrules::Rule;
using nicswitch::flowrules::TestpmdRule;
using nicswitch::flowrules::ToTestpmd;

constexpr size_t kBuffer = 128;  // larger than every item, action conf and header read
static_assert(sizeof(rte_flow_item_ipv6) <= kBuffer);
static_assert(sizeof(rte_flow_action_vxlan_encap) <= kBuffer);

constexpr int kItemTypes[] = {RTE_FLOW_ITEM_TYPE_END,   RTE_FLOW_ITEM_TYPE_VOID,
                              RTE_FLOW_ITEM_TYPE_ETH,   RTE_FLOW_ITEM_TYPE_VLAN,
                              RTE_FLOW_ITEM_TYPE_IPV4,  RTE_FLOW_ITEM_TYPE_IPV6,
                              RTE_FLOW_ITEM_TYPE_ICMP,  RTE_FLOW_ITEM_TYPE_UDP,
                              RTE_FLOW_ITEM_TYPE_TCP,   RTE_FLOW_ITEM_TYPE_VXLAN,
                              RTE_FLOW_ITEM_TYPE_ICMP6, RTE_FLOW_ITEM_TYPE_MARK,
                              RTE_FLOW_ITEM_TYPE_TAG,   RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT,
                              RTE_FLOW_ITEM_TYPE_GRE,   RTE_FLOW_ITEM_TYPE_META};
constexpr int kActionTypes[] = {RTE_FLOW_ACTION_TYPE_END,
                                RTE_FLOW_ACTION_TYPE_VOID,
                                RTE_FLOW_ACTION_TYPE_DROP,
                                RTE_FLOW_ACTION_TYPE_COUNT,
                                RTE_FLOW_ACTION_TYPE_AGE,
                                RTE_FLOW_ACTION_TYPE_METER,
                                RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP,
                                RTE_FLOW_ACTION_TYPE_VXLAN_DECAP,
                                RTE_FLOW_ACTION_TYPE_SET_MAC_SRC,
                                RTE_FLOW_ACTION_TYPE_SET_MAC_DST,
                                RTE_FLOW_ACTION_TYPE_DEC_TTL,
                                RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT,
                                RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR,
                                RTE_FLOW_ACTION_TYPE_JUMP,
                                RTE_FLOW_ACTION_TYPE_MARK,
                                RTE_FLOW_ACTION_TYPE_QUEUE,
                                RTE_FLOW_ACTION_TYPE_RSS,
                                RTE_FLOW_ACTION_TYPE_PORT_ID};

// Reads the input front to back; past the end it yields zeros.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t U8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t U32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = v << 8 | U8();
    return v;
  }
  void Bytes(uint8_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i) out[i] = U8();
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

struct Arrays {
  std::vector<std::unique_ptr<uint8_t[]>> buffers;
  std::vector<std::vector<rte_flow_item>> item_lists;

  const void* Buffer(Reader& r) {
    buffers.push_back(std::make_unique<uint8_t[]>(kBuffer));
    uint8_t* b = buffers.back().get();
    std::memset(b, 0, kBuffer);
    r.Bytes(b, r.U8() % (kBuffer + 1));
    return b;
  }
  template <size_t N>
  static int Type(Reader& r, const int (&known)[N]) {
    const uint8_t sel = r.U8();
    if (sel < 0xf0) return known[sel % N];
    return static_cast<int>(r.U32());
  }
  // An END-terminated item list of up to `max` items.
  rte_flow_item* Items(Reader& r, size_t max) {
    std::vector<rte_flow_item> items;
    const size_t n = r.U8() % (max + 1);
    for (size_t i = 0; i < n; ++i) {
      rte_flow_item item{};
      const int type = Type(r, kItemTypes);
      std::memcpy(&item.type, &type, sizeof(type));
      const uint8_t flags = r.U8();
      if (flags & 1) item.spec = Buffer(r);
      if (flags & 2) item.mask = Buffer(r);
      if ((flags & 0x1c) == 0x1c) item.last = Buffer(r);
      items.push_back(item);
    }
    items.push_back(rte_flow_item{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr});
    item_lists.push_back(std::move(items));
    return item_lists.back().data();
  }
};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "property violated: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r(data, size);
  Arrays arrays;
  rte_flow_attr attr{};
  attr.group = r.U32();
  attr.priority = r.U32();
  const uint8_t direction = r.U8();
  attr.ingress = direction & 1;
  attr.egress = (direction >> 1) & 1;
  attr.transfer = (direction >> 2) & 1;
  const rte_flow_item* pattern = arrays.Items(r, 12);
  std::vector<rte_flow_action> actions;
  const size_t n = r.U8() % 9;
  for (size_t i = 0; i < n; ++i) {
    rte_flow_action action{};
    const int type = Arrays::Type(r, kActionTypes);
    std::memcpy(&action.type, &type, sizeof(type));
    if (r.U8() & 1) {
      if (type == RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP) {
        auto* conf = static_cast<rte_flow_action_vxlan_encap*>(const_cast<void*>(arrays.Buffer(r)));
        conf->definition = (r.U8() & 1) ? arrays.Items(r, 6) : nullptr;
        action.conf = conf;
      } else {
        action.conf = arrays.Buffer(r);
      }
    }
    actions.push_back(action);
  }
  actions.push_back(rte_flow_action{RTE_FLOW_ACTION_TYPE_END, nullptr});

  auto rule = ParseRteFlow(attr, pattern, actions.data());
  if (std::getenv("FLOWRULES_FUZZ_VERBOSE") != nullptr) {  // for checking seeds by hand
    std::fprintf(stderr, "%s\n",
                 rule.ok() ? rule->ToString().c_str() : rule.status().ToString().c_str());
  }
  if (!rule.ok()) return 0;
  auto compiled = CompiledRule::Compile(*rule);
  Check(compiled.ok(), "a parsed rule compiles");
  auto again = ParseRteFlow(*compiled->attr(), compiled->pattern(), compiled->actions());
  Check(again.ok() && *again == *rule, "Compile then ParseRteFlow gives the rule back");
  const TestpmdRule testpmd{0, *rule};
  auto text = ParseTestpmd(ToTestpmd(testpmd));
  Check(text.ok() && *text == testpmd, "ToTestpmd then ParseTestpmd gives the rule back");
  return 0;
}
