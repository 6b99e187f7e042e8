// Rule <-> testpmd "flow create" text (see testpmd.h for the contract).
//
// Both directions go through rte_flow arrays, so the text means exactly what testpmd would
// make of it: ToTestpmd renders the arrays CompiledRule produces, and ParseTestpmd fills item
// spec/mask structures the way testpmd's cmdline_flow.c does (`is` sets the field in spec and
// all its bits in mask, `spec` only the spec, `mask`/`prefix` only the mask; an item whose
// mask was never given keeps mask NULL, i.e. the item's default mask) and hands the arrays to
// ParseRteFlow.
//
// VXLAN encap: testpmd's vxlan_encap action takes its headers from the last `set vxlan*`
// command. `set vxlan` leaves the outer TTL 0 (the PMD picks one), so ToTestpmd always writes
// `set vxlan-tos-ttl ... ip-tos 0 ip-ttl <ttl>`, which carries the rule's TTL exactly.
// ParseTestpmd also accepts plain `set vxlan`, taking TTL 64 (the usual PMD default).
#include "flowrules/testpmd.h"

#include <rte_byteorder.h>
#include <rte_flow.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "flowrules/rte_flow.h"
#include "flowrules/rule_internal.h"

namespace nicswitch::flowrules {

namespace {

// ---- Item field tables (shared by the renderer and the parser) ------------------------------

enum class Kind { kMac, kIpv4, kIpv6, kUintBe, kUintHost };

struct Field {
  const char* name;
  size_t offset;
  size_t size;  // bytes
  Kind kind;
  uint32_t bits = 0xffffffff;  // for sub-fields (vid): which bits of the field, LSB-aligned
  bool hex = false;            // render as 0x%04x
};

struct ItemSyntax {
  const char* name;
  rte_flow_item_type type;
  size_t size;
  std::vector<Field> fields;
};

const std::vector<ItemSyntax>& Items() {
  static const auto* items = new std::vector<ItemSyntax>{
      {"represented_port",
       RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT,
       sizeof(rte_flow_item_ethdev),
       {{"ethdev_port_id", offsetof(rte_flow_item_ethdev, port_id), 2, Kind::kUintHost}}},
      {"eth",
       RTE_FLOW_ITEM_TYPE_ETH,
       sizeof(rte_flow_item_eth),
       {{"dst", offsetof(rte_flow_item_eth, hdr.dst_addr), 6, Kind::kMac},
        {"src", offsetof(rte_flow_item_eth, hdr.src_addr), 6, Kind::kMac},
        {"type", offsetof(rte_flow_item_eth, hdr.ether_type), 2, Kind::kUintBe, 0xffff, true}}},
      {"vlan",
       RTE_FLOW_ITEM_TYPE_VLAN,
       sizeof(rte_flow_item_vlan),
       {{"tci", offsetof(rte_flow_item_vlan, hdr.vlan_tci), 2, Kind::kUintBe},
        {"vid", offsetof(rte_flow_item_vlan, hdr.vlan_tci), 2, Kind::kUintBe, 0x0fff},
        {"inner_type", offsetof(rte_flow_item_vlan, hdr.eth_proto), 2, Kind::kUintBe, 0xffff,
         true}}},
      {"ipv4",
       RTE_FLOW_ITEM_TYPE_IPV4,
       sizeof(rte_flow_item_ipv4),
       {{"src", offsetof(rte_flow_item_ipv4, hdr.src_addr), 4, Kind::kIpv4},
        {"dst", offsetof(rte_flow_item_ipv4, hdr.dst_addr), 4, Kind::kIpv4},
        {"proto", offsetof(rte_flow_item_ipv4, hdr.next_proto_id), 1, Kind::kUintBe}}},
      {"ipv6",
       RTE_FLOW_ITEM_TYPE_IPV6,
       sizeof(rte_flow_item_ipv6),
       {{"src", offsetof(rte_flow_item_ipv6, hdr.src_addr), 16, Kind::kIpv6},
        {"dst", offsetof(rte_flow_item_ipv6, hdr.dst_addr), 16, Kind::kIpv6},
        {"proto", offsetof(rte_flow_item_ipv6, hdr.proto), 1, Kind::kUintBe}}},
      {"tcp",
       RTE_FLOW_ITEM_TYPE_TCP,
       sizeof(rte_flow_item_tcp),
       {{"src", offsetof(rte_flow_item_tcp, hdr.src_port), 2, Kind::kUintBe},
        {"dst", offsetof(rte_flow_item_tcp, hdr.dst_port), 2, Kind::kUintBe}}},
      {"udp",
       RTE_FLOW_ITEM_TYPE_UDP,
       sizeof(rte_flow_item_udp),
       {{"src", offsetof(rte_flow_item_udp, hdr.src_port), 2, Kind::kUintBe},
        {"dst", offsetof(rte_flow_item_udp, hdr.dst_port), 2, Kind::kUintBe}}},
      {"icmp",
       RTE_FLOW_ITEM_TYPE_ICMP,
       sizeof(rte_flow_item_icmp),
       {{"type", offsetof(rte_flow_item_icmp, hdr.icmp_type), 1, Kind::kUintBe},
        {"code", offsetof(rte_flow_item_icmp, hdr.icmp_code), 1, Kind::kUintBe}}},
      {"icmp6",
       RTE_FLOW_ITEM_TYPE_ICMP6,
       sizeof(rte_flow_item_icmp6),
       {{"type", offsetof(rte_flow_item_icmp6, type), 1, Kind::kUintBe},
        {"code", offsetof(rte_flow_item_icmp6, code), 1, Kind::kUintBe}}},
      {"vxlan",
       RTE_FLOW_ITEM_TYPE_VXLAN,
       sizeof(rte_flow_item_vxlan),
       {{"vni", offsetof(rte_flow_item_vxlan, vni), 3, Kind::kUintBe}}},
      {"mark",
       RTE_FLOW_ITEM_TYPE_MARK,
       sizeof(rte_flow_item_mark),
       {{"id", offsetof(rte_flow_item_mark, id), 4, Kind::kUintHost}}},
      {"tag",
       RTE_FLOW_ITEM_TYPE_TAG,
       sizeof(rte_flow_item_tag),
       {{"data", offsetof(rte_flow_item_tag, data), 4, Kind::kUintHost},
        {"index", offsetof(rte_flow_item_tag, index), 1, Kind::kUintHost}}},
  };
  return *items;
}

const ItemSyntax* FindItem(int type) {
  for (const ItemSyntax& item : Items()) {
    if (item.type == type) return &item;
  }
  return nullptr;
}
const ItemSyntax* FindItem(absl::string_view name) {
  for (const ItemSyntax& item : Items()) {
    if (name == item.name) return &item;
  }
  return nullptr;
}

// Integer fields as a host-order value restricted to `bits`.
uint64_t GetUint(const Field& f, const uint8_t* base) {
  uint64_t v = 0;
  if (f.kind == Kind::kUintBe) {
    for (size_t i = 0; i < f.size; ++i) v = v << 8 | base[f.offset + i];
  } else {
    uint32_t u32 = 0;
    uint16_t u16 = 0;
    uint8_t u8 = 0;
    switch (f.size) {
      case 4:
        std::memcpy(&u32, base + f.offset, 4);
        v = u32;
        break;
      case 2:
        std::memcpy(&u16, base + f.offset, 2);
        v = u16;
        break;
      default:
        std::memcpy(&u8, base + f.offset, 1);
        v = u8;
        break;
    }
  }
  return v & f.bits;
}

void SetUint(const Field& f, uint8_t* base, uint64_t value) {
  const uint64_t old = GetUint(Field{f.name, f.offset, f.size, f.kind}, base);
  const uint64_t v = (old & ~static_cast<uint64_t>(f.bits)) | (value & f.bits);
  if (f.kind == Kind::kUintBe) {
    for (size_t i = 0; i < f.size; ++i) {
      base[f.offset + f.size - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
    }
  } else {
    const uint32_t u32 = static_cast<uint32_t>(v);
    const uint16_t u16 = static_cast<uint16_t>(v);
    const uint8_t u8 = static_cast<uint8_t>(v);
    switch (f.size) {
      case 4:
        std::memcpy(base + f.offset, &u32, 4);
        break;
      case 2:
        std::memcpy(base + f.offset, &u16, 2);
        break;
      default:
        std::memcpy(base + f.offset, &u8, 1);
        break;
    }
  }
}

uint64_t FieldAllOnes(const Field& f) {
  const uint64_t width = f.size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * f.size)) - 1;
  return width & f.bits;
}

std::string FieldText(const Field& f, const uint8_t* base) {
  switch (f.kind) {
    case Kind::kMac: {
      MacAddress mac;
      std::memcpy(mac.bytes.data(), base + f.offset, 6);
      return mac.ToString();
    }
    case Kind::kIpv4: {
      uint32_t be;
      std::memcpy(&be, base + f.offset, 4);
      return Ipv4Address{rte_be_to_cpu_32(be)}.ToString();
    }
    case Kind::kIpv6: {
      Ipv6Address a;
      std::memcpy(a.bytes.data(), base + f.offset, 16);
      return a.ToString();
    }
    default:
      if (f.hex) return absl::StrFormat("0x%04x", GetUint(f, base));
      return absl::StrCat(GetUint(f, base));
  }
}

bool FieldMaskIsZero(const Field& f, const uint8_t* mask) {
  if (f.kind == Kind::kUintBe || f.kind == Kind::kUintHost) return GetUint(f, mask) == 0;
  for (size_t i = 0; i < f.size; ++i) {
    if (mask[f.offset + i] != 0) return false;
  }
  return true;
}
bool FieldMaskIsFull(const Field& f, const uint8_t* mask) {
  if (f.kind == Kind::kUintBe || f.kind == Kind::kUintHost) {
    return GetUint(f, mask) == FieldAllOnes(f);
  }
  for (size_t i = 0; i < f.size; ++i) {
    if (mask[f.offset + i] != 0xff) return false;
  }
  return true;
}

// ---- Rendering ------------------------------------------------------------------------------

std::string RenderItem(const rte_flow_item& item) {
  const ItemSyntax* syntax = FindItem(item.type);
  if (syntax == nullptr) return "?";  // Compile emits only items in the table.
  std::string out = syntax->name;
  if (item.spec == nullptr) return out;
  const auto* spec = static_cast<const uint8_t*>(item.spec);
  const auto* mask = static_cast<const uint8_t*>(item.mask);
  for (const Field& f : syntax->fields) {
    if (absl::string_view(f.name) == "tci") continue;  // rendered as vid (Compile masks 0x0fff)
    if (FieldMaskIsZero(f, mask)) continue;
    if (FieldMaskIsFull(f, mask)) {
      absl::StrAppend(&out, " ", f.name, " is ", FieldText(f, spec));
    } else {
      absl::StrAppend(&out, " ", f.name, " spec ", FieldText(f, spec), " ", f.name, " mask ",
                      FieldText(f, mask));
    }
  }
  return out;
}

std::string RenderAction(const Action& action) {
  return std::visit(
      [](const auto& a) -> std::string {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, DropAction>) {
          return "drop";
        } else if constexpr (std::is_same_v<T, CountAction>) {
          return "count";
        } else if constexpr (std::is_same_v<T, AgeAction>) {
          return absl::StrCat("age timeout ", a.seconds);
        } else if constexpr (std::is_same_v<T, MeterAction>) {
          return absl::StrCat("meter mtr_id ", a.meter_id);
        } else if constexpr (std::is_same_v<T, VxlanEncapAction>) {
          return "vxlan_encap";
        } else if constexpr (std::is_same_v<T, VxlanDecapAction>) {
          return "vxlan_decap";
        } else if constexpr (std::is_same_v<T, SetMacSrcAction>) {
          return absl::StrCat("set_mac_src mac_addr ", a.mac.ToString());
        } else if constexpr (std::is_same_v<T, SetMacDstAction>) {
          return absl::StrCat("set_mac_dst mac_addr ", a.mac.ToString());
        } else if constexpr (std::is_same_v<T, DecTtlAction>) {
          return "dec_ttl";
        } else if constexpr (std::is_same_v<T, RepresentedPortAction>) {
          return absl::StrCat("represented_port ethdev_port_id ", a.port_id);
        } else if constexpr (std::is_same_v<T, PortRepresentorAction>) {
          return absl::StrCat("port_representor port_id ", a.port_id);
        } else if constexpr (std::is_same_v<T, JumpAction>) {
          return absl::StrCat("jump group ", a.group);
        } else if constexpr (std::is_same_v<T, MarkAction>) {
          return absl::StrCat("mark id ", a.id);
        } else {
          static_assert(std::is_same_v<T, QueueAction>);
          return absl::StrCat("queue index ", a.index);
        }
      },
      action);
}

std::string RenderSetVxlan(const VxlanEncapAction& a) {
  const bool v4 = std::holds_alternative<std::pair<Ipv4Address, Ipv4Address>>(a.ip);
  const std::string ip_src = std::visit([](const auto& p) { return p.first.ToString(); }, a.ip);
  const std::string ip_dst = std::visit([](const auto& p) { return p.second.ToString(); }, a.ip);
  return absl::StrCat("set vxlan-tos-ttl ip-version ", v4 ? "ipv4" : "ipv6", " vni ", a.vni,
                      " udp-src ", a.udp_src, " udp-dst ", a.udp_dst, " ip-tos 0 ip-ttl ", a.ttl,
                      " ip-src ", ip_src, " ip-dst ", ip_dst, " eth-src ", a.eth_src.ToString(),
                      " eth-dst ", a.eth_dst.ToString(), "\n");
}

const char* DirectionToken(Direction d) {
  switch (d) {
    case Direction::kIngress:
      return "ingress";
    case Direction::kEgress:
      return "egress";
    case Direction::kTransfer:
      break;
  }
  return "transfer";
}

}  // namespace

std::string ToTestpmd(const TestpmdRule& rule) {
  auto compiled = CompiledRule::Compile(rule.rule);
  if (!compiled.ok()) {
    return absl::StrCat("# nicswitch: not rendered, invalid rule: ", compiled.status().message(),
                        "\n");
  }
  std::string out;
  for (const Action& action : rule.rule.actions) {
    if (const auto* encap = std::get_if<VxlanEncapAction>(&action)) out += RenderSetVxlan(*encap);
  }
  std::vector<std::string> items;
  for (const rte_flow_item* item = compiled->pattern(); item->type != RTE_FLOW_ITEM_TYPE_END;
       ++item) {
    items.push_back(RenderItem(*item));
  }
  items.push_back("end");
  std::vector<std::string> actions;
  for (const Action& action : rule.rule.actions) actions.push_back(RenderAction(action));
  actions.push_back("end");
  absl::StrAppend(&out, "flow create ", rule.port_id, " group ", rule.rule.group, " priority ",
                  rule.rule.priority, " ", DirectionToken(rule.rule.direction), " pattern ",
                  absl::StrJoin(items, " / "), " actions ", absl::StrJoin(actions, " / "), "\n");
  return out;
}

// ---- Parsing --------------------------------------------------------------------------------

namespace {

struct Token {
  std::string text;
  int line;
  int index;  // 1-based position within the line
};

class Tokens {
 public:
  Tokens(std::vector<Token> tokens, int line) : tokens_(std::move(tokens)), line_(line) {}

  bool Done() const { return pos_ >= tokens_.size(); }
  const Token* Peek() const { return Done() ? nullptr : &tokens_[pos_]; }
  absl::StatusOr<Token> Next(absl::string_view what) {
    if (Done()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_, ": expected ", what, " after the last token"));
    }
    return tokens_[pos_++];
  }
  absl::Status Expect(absl::string_view keyword) {
    ASSIGN_OR_RETURN(Token t, Next(absl::StrCat("\"", keyword, "\"")));
    if (t.text != keyword) return Error(t, absl::StrCat("expected \"", keyword, "\""));
    return absl::OkStatus();
  }
  static absl::Status Error(const Token& t, absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", t.line, ", token ", t.index, " (\"", t.text, "\"): ", what));
  }

 private:
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int line_;
};

template <typename T>
absl::StatusOr<T> ParseUnsigned(const Token& t, uint64_t max) {
  uint64_t v = 0;
  const std::string& s = t.text;
  bool ok;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    ok = absl::SimpleHexAtoi(absl::string_view(s).substr(2), &v) && s[2] != '+' && s[2] != '-';
  } else {
    ok = absl::SimpleAtoi(s, &v) && !s.empty() && s[0] != '+' && s[0] != '-';
  }
  if (!ok) return Tokens::Error(t, "not an unsigned number");
  if (v > max) return Tokens::Error(t, absl::StrCat("exceeds the maximum ", max));
  return static_cast<T>(v);
}

// Storage for the arrays built from text.
struct TextArrays {
  rte_flow_attr attr{};
  std::vector<rte_flow_item> items;
  std::vector<rte_flow_action> actions;
  std::vector<std::unique_ptr<uint8_t[]>> blobs;

  uint8_t* Blob(size_t size) {
    blobs.push_back(std::make_unique<uint8_t[]>(size));
    std::memset(blobs.back().get(), 0, size);
    return blobs.back().get();
  }
};

absl::Status WriteFieldValue(const Field& f, const Token& t, uint8_t* base) {
  switch (f.kind) {
    case Kind::kMac: {
      auto mac = MacAddress::Parse(t.text);
      if (!mac.ok()) return Tokens::Error(t, "not a MAC address");
      std::memcpy(base + f.offset, mac->bytes.data(), 6);
      return absl::OkStatus();
    }
    case Kind::kIpv4: {
      auto a = Ipv4Address::Parse(t.text);
      if (!a.ok()) return Tokens::Error(t, "not an IPv4 address");
      const uint32_t be = rte_cpu_to_be_32(a->value);
      std::memcpy(base + f.offset, &be, 4);
      return absl::OkStatus();
    }
    case Kind::kIpv6: {
      auto a = Ipv6Address::Parse(t.text);
      if (!a.ok()) return Tokens::Error(t, "not an IPv6 address");
      std::memcpy(base + f.offset, a->bytes.data(), 16);
      return absl::OkStatus();
    }
    default: {
      ASSIGN_OR_RETURN(uint64_t v, ParseUnsigned<uint64_t>(t, FieldAllOnes(f)));
      SetUint(f, base, v);
      return absl::OkStatus();
    }
  }
}

absl::Status WritePrefix(const Field& f, const Token& t, uint8_t* mask) {
  if (f.kind == Kind::kUintHost || f.kind == Kind::kMac) {
    return Tokens::Error(t, absl::StrCat("prefix is not supported on field ", f.name));
  }
  const int width = f.kind == Kind::kUintBe && f.bits != 0xffffffff ? 12 : 8 * f.size;
  ASSIGN_OR_RETURN(int length, ParseUnsigned<int>(t, width));
  if (f.kind == Kind::kUintBe) {
    const uint64_t ones = FieldAllOnes(f);
    const uint64_t v = length == 0 ? 0 : (ones >> (width - length)) << (width - length);
    SetUint(f, mask, v);
    return absl::OkStatus();
  }
  for (size_t i = 0; i < f.size; ++i) {
    const int bits = length - 8 * static_cast<int>(i);
    mask[f.offset + i] = bits >= 8   ? 0xff
                         : bits <= 0 ? 0
                                     : static_cast<uint8_t>(0xff << (8 - bits));
  }
  return absl::OkStatus();
}

absl::Status ParseItem(const Token& name, Tokens& tokens, TextArrays& arrays) {
  const ItemSyntax* syntax = FindItem(name.text);
  if (syntax == nullptr) return Tokens::Error(name, "unknown or unsupported pattern item");
  rte_flow_item item{syntax->type, nullptr, nullptr, nullptr};
  uint8_t* spec = arrays.Blob(syntax->size);
  uint8_t* mask = arrays.Blob(syntax->size);
  while (true) {
    ASSIGN_OR_RETURN(Token field_token, tokens.Next("an item field or \"/\""));
    if (field_token.text == "/") break;
    const Field* field = nullptr;
    for (const Field& f : syntax->fields) {
      if (field_token.text == f.name) field = &f;
    }
    if (field == nullptr) {
      return Tokens::Error(field_token,
                           absl::StrCat("unknown or unsupported field of item ", syntax->name));
    }
    ASSIGN_OR_RETURN(Token op, tokens.Next("is, spec, mask or prefix"));
    ASSIGN_OR_RETURN(Token value, tokens.Next("a value"));
    if (op.text == "is") {
      RETURN_IF_ERROR(WriteFieldValue(*field, value, spec));
      if (field->kind == Kind::kUintBe || field->kind == Kind::kUintHost) {
        SetUint(*field, mask, FieldAllOnes(*field));
      } else {
        std::memset(mask + field->offset, 0xff, field->size);
      }
      item.spec = spec;
      item.mask = mask;
    } else if (op.text == "spec") {
      RETURN_IF_ERROR(WriteFieldValue(*field, value, spec));
      item.spec = spec;
    } else if (op.text == "mask") {
      RETURN_IF_ERROR(WriteFieldValue(*field, value, mask));
      item.mask = mask;
    } else if (op.text == "prefix") {
      RETURN_IF_ERROR(WritePrefix(*field, value, mask));
      item.mask = mask;
    } else if (op.text == "last") {
      return Tokens::Error(op, "ranges (last) are not supported");
    } else {
      return Tokens::Error(op, "expected is, spec, mask or prefix");
    }
  }
  arrays.items.push_back(item);
  return absl::OkStatus();
}

// The outer headers of the last `set vxlan*` command.
struct SetVxlan {
  VxlanEncapAction encap;
};

absl::Status ParseSetVxlan(Tokens& tokens, std::optional<SetVxlan>& out) {
  RETURN_IF_ERROR(tokens.Expect("set"));
  ASSIGN_OR_RETURN(Token which, tokens.Next("vxlan or vxlan-tos-ttl"));
  if (which.text != "vxlan" && which.text != "vxlan-tos-ttl") {
    return Tokens::Error(which, "only \"set vxlan\" and \"set vxlan-tos-ttl\" are supported");
  }
  const bool tos_ttl = which.text == "vxlan-tos-ttl";
  SetVxlan set;
  set.encap.ttl = 64;
  RETURN_IF_ERROR(tokens.Expect("ip-version"));
  ASSIGN_OR_RETURN(Token version, tokens.Next("ipv4 or ipv6"));
  if (version.text != "ipv4" && version.text != "ipv6") {
    return Tokens::Error(version, "expected ipv4 or ipv6");
  }
  const bool v4 = version.text == "ipv4";
  RETURN_IF_ERROR(tokens.Expect("vni"));
  ASSIGN_OR_RETURN(Token vni, tokens.Next("a VNI"));
  ASSIGN_OR_RETURN(set.encap.vni, ParseUnsigned<uint32_t>(vni, internal::kMaxVni));
  RETURN_IF_ERROR(tokens.Expect("udp-src"));
  ASSIGN_OR_RETURN(Token udp_src, tokens.Next("a port"));
  ASSIGN_OR_RETURN(set.encap.udp_src, ParseUnsigned<uint16_t>(udp_src, 0xffff));
  RETURN_IF_ERROR(tokens.Expect("udp-dst"));
  ASSIGN_OR_RETURN(Token udp_dst, tokens.Next("a port"));
  ASSIGN_OR_RETURN(set.encap.udp_dst, ParseUnsigned<uint16_t>(udp_dst, 0xffff));
  if (tos_ttl) {
    RETURN_IF_ERROR(tokens.Expect("ip-tos"));
    ASSIGN_OR_RETURN(Token tos_token, tokens.Next("a TOS"));
    ASSIGN_OR_RETURN(uint8_t tos, ParseUnsigned<uint8_t>(tos_token, 0xff));
    if (tos != 0) return Tokens::Error(tos_token, "a non-zero ip-tos is not supported");
    RETURN_IF_ERROR(tokens.Expect("ip-ttl"));
    ASSIGN_OR_RETURN(Token ttl, tokens.Next("a TTL"));
    ASSIGN_OR_RETURN(set.encap.ttl, ParseUnsigned<uint8_t>(ttl, 0xff));
  }
  RETURN_IF_ERROR(tokens.Expect("ip-src"));
  ASSIGN_OR_RETURN(Token ip_src, tokens.Next("an address"));
  RETURN_IF_ERROR(tokens.Expect("ip-dst"));
  ASSIGN_OR_RETURN(Token ip_dst, tokens.Next("an address"));
  if (v4) {
    auto src = Ipv4Address::Parse(ip_src.text);
    if (!src.ok()) return Tokens::Error(ip_src, "not an IPv4 address");
    auto dst = Ipv4Address::Parse(ip_dst.text);
    if (!dst.ok()) return Tokens::Error(ip_dst, "not an IPv4 address");
    set.encap.ip = std::pair{*src, *dst};
  } else {
    auto src = Ipv6Address::Parse(ip_src.text);
    if (!src.ok()) return Tokens::Error(ip_src, "not an IPv6 address");
    auto dst = Ipv6Address::Parse(ip_dst.text);
    if (!dst.ok()) return Tokens::Error(ip_dst, "not an IPv6 address");
    set.encap.ip = std::pair{*src, *dst};
  }
  RETURN_IF_ERROR(tokens.Expect("eth-src"));
  ASSIGN_OR_RETURN(Token eth_src, tokens.Next("a MAC address"));
  auto src_mac = MacAddress::Parse(eth_src.text);
  if (!src_mac.ok()) return Tokens::Error(eth_src, "not a MAC address");
  set.encap.eth_src = *src_mac;
  RETURN_IF_ERROR(tokens.Expect("eth-dst"));
  ASSIGN_OR_RETURN(Token eth_dst, tokens.Next("a MAC address"));
  auto dst_mac = MacAddress::Parse(eth_dst.text);
  if (!dst_mac.ok()) return Tokens::Error(eth_dst, "not a MAC address");
  set.encap.eth_dst = *dst_mac;
  if (const Token* extra = tokens.Peek()) return Tokens::Error(*extra, "unexpected token");
  out = set;
  return absl::OkStatus();
}

// An action parameter: `name value`, stored as a host-order integer or MAC at `offset`.
struct ActionSyntax {
  const char* name;
  rte_flow_action_type type;
  size_t conf_size;
  const char* param = nullptr;  // nullptr: no parameter, conf NULL
  size_t offset = 0;
  size_t size = 0;  // 1, 2, 4 (host order) or 6 (MAC)
};

const std::vector<ActionSyntax>& ActionTable() {
  static const auto* actions = new std::vector<ActionSyntax>{
      {"drop", RTE_FLOW_ACTION_TYPE_DROP, 0},
      {"count", RTE_FLOW_ACTION_TYPE_COUNT, 0},
      {"vxlan_decap", RTE_FLOW_ACTION_TYPE_VXLAN_DECAP, 0},
      {"dec_ttl", RTE_FLOW_ACTION_TYPE_DEC_TTL, 0},
      {"meter", RTE_FLOW_ACTION_TYPE_METER, sizeof(rte_flow_action_meter), "mtr_id",
       offsetof(rte_flow_action_meter, mtr_id), 4},
      {"set_mac_src", RTE_FLOW_ACTION_TYPE_SET_MAC_SRC, sizeof(rte_flow_action_set_mac), "mac_addr",
       offsetof(rte_flow_action_set_mac, mac_addr), 6},
      {"set_mac_dst", RTE_FLOW_ACTION_TYPE_SET_MAC_DST, sizeof(rte_flow_action_set_mac), "mac_addr",
       offsetof(rte_flow_action_set_mac, mac_addr), 6},
      {"represented_port", RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, sizeof(rte_flow_action_ethdev),
       "ethdev_port_id", offsetof(rte_flow_action_ethdev, port_id), 2},
      {"port_representor", RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR, sizeof(rte_flow_action_ethdev),
       "port_id", offsetof(rte_flow_action_ethdev, port_id), 2},
      {"jump", RTE_FLOW_ACTION_TYPE_JUMP, sizeof(rte_flow_action_jump), "group",
       offsetof(rte_flow_action_jump, group), 4},
      {"mark", RTE_FLOW_ACTION_TYPE_MARK, sizeof(rte_flow_action_mark), "id",
       offsetof(rte_flow_action_mark, id), 4},
      {"queue", RTE_FLOW_ACTION_TYPE_QUEUE, sizeof(rte_flow_action_queue), "index",
       offsetof(rte_flow_action_queue, index), 2},
  };
  return *actions;
}

// testpmd's VXLAN_ENCAP definition built from `set vxlan*` (with the TTL always set).
const rte_flow_item* EncapDefinition(const VxlanEncapAction& a, TextArrays& arrays) {
  auto* items = reinterpret_cast<rte_flow_item*>(arrays.Blob(5 * sizeof(rte_flow_item)));
  auto* eth = reinterpret_cast<rte_flow_item_eth*>(arrays.Blob(sizeof(rte_flow_item_eth)));
  auto* udp = reinterpret_cast<rte_flow_item_udp*>(arrays.Blob(sizeof(rte_flow_item_udp)));
  auto* vxlan = reinterpret_cast<rte_flow_item_vxlan*>(arrays.Blob(sizeof(rte_flow_item_vxlan)));
  std::memcpy(eth->hdr.src_addr.addr_bytes, a.eth_src.bytes.data(), 6);
  std::memcpy(eth->hdr.dst_addr.addr_bytes, a.eth_dst.bytes.data(), 6);
  udp->hdr.src_port = rte_cpu_to_be_16(a.udp_src);
  udp->hdr.dst_port = rte_cpu_to_be_16(a.udp_dst);
  vxlan->hdr.vx_vni = rte_cpu_to_be_32(a.vni << 8);
  items[0] = {RTE_FLOW_ITEM_TYPE_ETH, eth, nullptr, nullptr};
  if (const auto* v4 = std::get_if<std::pair<Ipv4Address, Ipv4Address>>(&a.ip)) {
    auto* ip = reinterpret_cast<rte_flow_item_ipv4*>(arrays.Blob(sizeof(rte_flow_item_ipv4)));
    ip->hdr.src_addr = rte_cpu_to_be_32(v4->first.value);
    ip->hdr.dst_addr = rte_cpu_to_be_32(v4->second.value);
    ip->hdr.time_to_live = a.ttl;
    items[1] = {RTE_FLOW_ITEM_TYPE_IPV4, ip, nullptr, nullptr};
  } else {
    const auto& v6 = std::get<std::pair<Ipv6Address, Ipv6Address>>(a.ip);
    auto* ip = reinterpret_cast<rte_flow_item_ipv6*>(arrays.Blob(sizeof(rte_flow_item_ipv6)));
    std::memcpy(ip->hdr.src_addr, v6.first.bytes.data(), 16);
    std::memcpy(ip->hdr.dst_addr, v6.second.bytes.data(), 16);
    ip->hdr.hop_limits = a.ttl;
    items[1] = {RTE_FLOW_ITEM_TYPE_IPV6, ip, nullptr, nullptr};
  }
  items[2] = {RTE_FLOW_ITEM_TYPE_UDP, udp, nullptr, nullptr};
  items[3] = {RTE_FLOW_ITEM_TYPE_VXLAN, vxlan, nullptr, nullptr};
  items[4] = {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
  return items;
}

absl::Status ParseAction(const Token& name, Tokens& tokens, const std::optional<SetVxlan>& set,
                         TextArrays& arrays) {
  rte_flow_action action{RTE_FLOW_ACTION_TYPE_VOID, nullptr};
  if (name.text == "vxlan_encap") {
    if (!set) return Tokens::Error(name, "vxlan_encap needs a \"set vxlan\" command before it");
    auto* conf = reinterpret_cast<rte_flow_action_vxlan_encap*>(
        arrays.Blob(sizeof(rte_flow_action_vxlan_encap)));
    conf->definition = const_cast<rte_flow_item*>(EncapDefinition(set->encap, arrays));
    action = {RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP, conf};
  } else if (name.text == "age") {
    auto* conf = reinterpret_cast<rte_flow_action_age*>(arrays.Blob(sizeof(rte_flow_action_age)));
    action = {RTE_FLOW_ACTION_TYPE_AGE, conf};
    const Token* peek = tokens.Peek();
    if (peek != nullptr && peek->text == "timeout") {
      ASSIGN_OR_RETURN(Token param, tokens.Next("timeout"));
      ASSIGN_OR_RETURN(Token value, tokens.Next("seconds"));
      ASSIGN_OR_RETURN(conf->timeout, ParseUnsigned<uint32_t>(value, internal::kMaxAgeSeconds));
    }
  } else {
    const ActionSyntax* syntax = nullptr;
    for (const ActionSyntax& a : ActionTable()) {
      if (name.text == a.name) syntax = &a;
    }
    if (syntax == nullptr) return Tokens::Error(name, "unknown or unsupported action");
    action.type = syntax->type;
    if (syntax->conf_size > 0) {
      uint8_t* conf = arrays.Blob(syntax->conf_size);
      action.conf = conf;
      const Token* peek = tokens.Peek();
      if (peek != nullptr && peek->text == syntax->param) {
        ASSIGN_OR_RETURN(Token param, tokens.Next(syntax->param));
        ASSIGN_OR_RETURN(Token value, tokens.Next("a value"));
        if (syntax->size == 6) {
          auto mac = MacAddress::Parse(value.text);
          if (!mac.ok()) return Tokens::Error(value, "not a MAC address");
          std::memcpy(conf + syntax->offset, mac->bytes.data(), 6);
        } else {
          const uint64_t max = syntax->size == 4 ? 0xffffffff : syntax->size == 2 ? 0xffff : 0xff;
          ASSIGN_OR_RETURN(uint64_t v, ParseUnsigned<uint64_t>(value, max));
          Field f{syntax->param, syntax->offset, syntax->size, Kind::kUintHost};
          SetUint(f, conf, v);
        }
      }
    }
  }
  ASSIGN_OR_RETURN(Token separator, tokens.Next("\"/\""));
  if (separator.text != "/") return Tokens::Error(separator, "expected \"/\"");
  arrays.actions.push_back(action);
  return absl::OkStatus();
}

absl::StatusOr<TestpmdRule> ParseFlowCreate(Tokens& tokens, const std::optional<SetVxlan>& set) {
  TestpmdRule out;
  TextArrays arrays;
  RETURN_IF_ERROR(tokens.Expect("flow"));
  RETURN_IF_ERROR(tokens.Expect("create"));
  ASSIGN_OR_RETURN(Token port, tokens.Next("a port id"));
  ASSIGN_OR_RETURN(out.port_id, ParseUnsigned<uint16_t>(port, 0xffff));
  while (true) {
    ASSIGN_OR_RETURN(Token t, tokens.Next("\"pattern\""));
    if (t.text == "pattern") break;
    if (t.text == "group" || t.text == "priority") {
      ASSIGN_OR_RETURN(Token value, tokens.Next("a number"));
      ASSIGN_OR_RETURN(uint32_t v, ParseUnsigned<uint32_t>(value, 0xffffffff));
      (t.text == "group" ? arrays.attr.group : arrays.attr.priority) = v;
    } else if (t.text == "ingress") {
      arrays.attr.ingress = 1;
    } else if (t.text == "egress") {
      arrays.attr.egress = 1;
    } else if (t.text == "transfer") {
      arrays.attr.transfer = 1;
    } else {
      return Tokens::Error(t, "expected group, priority, ingress, egress, transfer or pattern");
    }
  }
  while (true) {
    ASSIGN_OR_RETURN(Token name, tokens.Next("a pattern item or \"end\""));
    if (name.text == "end") break;
    RETURN_IF_ERROR(ParseItem(name, tokens, arrays));
  }
  arrays.items.push_back(rte_flow_item{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr});
  RETURN_IF_ERROR(tokens.Expect("actions"));
  while (true) {
    ASSIGN_OR_RETURN(Token name, tokens.Next("an action or \"end\""));
    if (name.text == "end") break;
    RETURN_IF_ERROR(ParseAction(name, tokens, set, arrays));
  }
  arrays.actions.push_back(rte_flow_action{RTE_FLOW_ACTION_TYPE_END, nullptr});
  if (const Token* extra = tokens.Peek()) return Tokens::Error(*extra, "unexpected token");
  auto rule = ParseRteFlow(arrays.attr, arrays.items.data(), arrays.actions.data());
  if (!rule.ok()) {
    return absl::Status(rule.status().code(),
                        absl::StrCat("line ", port.line, ": ", rule.status().message()));
  }
  out.rule = *std::move(rule);
  return out;
}

}  // namespace

absl::StatusOr<TestpmdRule> ParseTestpmd(absl::string_view text) {
  std::optional<SetVxlan> set;
  std::optional<TestpmdRule> result;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<Token> tokens;
    for (absl::string_view word :
         absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty())) {
      tokens.push_back(Token{std::string(word), line_number, static_cast<int>(tokens.size()) + 1});
    }
    Tokens stream(std::move(tokens), line_number);
    const Token& first = *stream.Peek();
    if (first.text == "set") {
      if (result) return Tokens::Error(first, "\"set\" after the flow create command");
      RETURN_IF_ERROR(ParseSetVxlan(stream, set));
    } else if (first.text == "flow") {
      if (result) return Tokens::Error(first, "only one flow create command is supported");
      ASSIGN_OR_RETURN(result, ParseFlowCreate(stream, set));
    } else {
      return Tokens::Error(first, "expected \"set vxlan...\" or \"flow create\"");
    }
  }
  if (!result) return absl::InvalidArgumentError("no flow create command");
  return *std::move(result);
}

}  // namespace nicswitch::flowrules
