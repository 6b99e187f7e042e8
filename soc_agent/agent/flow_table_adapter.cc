#include "soc_agent/agent/flow_table_adapter.h"

#include "absl/strings/str_join.h"

namespace nicswitch::agent {
namespace {

std::string ActionSummary(const std::vector<flowrules::Action>& actions) {
  std::vector<std::string> parts;
  for (const flowrules::Action& action : actions) {
    if (const auto* a = std::get_if<flowrules::VxlanEncapAction>(&action)) {
      const auto* v4 = std::get_if<0>(&a->ip);
      parts.push_back(absl::StrCat("vxlan_encap(vni ", a->vni, " to ",
                                   v4 != nullptr ? v4->second.ToString() : "ipv6", ")"));
    } else if (std::holds_alternative<flowrules::VxlanDecapAction>(action)) {
      parts.push_back("vxlan_decap");
    } else if (const auto* a = std::get_if<flowrules::SetMacDstAction>(&action)) {
      parts.push_back(absl::StrCat("set_mac_dst(", a->mac.ToString(), ")"));
    } else if (std::holds_alternative<flowrules::DecTtlAction>(action)) {
      parts.push_back("dec_ttl");
    } else if (const auto* a = std::get_if<flowrules::MeterAction>(&action)) {
      parts.push_back(absl::StrCat("meter(", a->meter_id, ")"));
    } else if (const auto* a = std::get_if<flowrules::RepresentedPortAction>(&action)) {
      parts.push_back(absl::StrCat("port(", a->port_id, ")"));
    } else if (std::holds_alternative<flowrules::DropAction>(action)) {
      parts.push_back("drop");
    }
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace

api::FlowRecord FlowTableAdapter::ToRecord(const flows::FlowInfo& flow) {
  api::FlowRecord r;
  r.id = flow.id;
  r.vnic = flow.vnic;
  const flowrules::Match& m = flow.rule.match;
  // Flows from the uplink carry their tuple in the inner headers and are ingress to the vNIC.
  const bool ingress = m.vxlan.has_value();
  const flowrules::HeaderMatch& h = ingress ? m.inner : m.outer;
  r.direction = ingress ? "ingress" : "egress";
  if (h.ipv4_src) r.src_ip = h.ipv4_src->address.ToString();
  if (h.ipv4_dst) r.dst_ip = h.ipv4_dst->address.ToString();
  r.protocol = h.ip_protocol.value_or(0);
  r.src_port = h.l4_src_port.value_or(0);
  r.dst_port = h.l4_dst_port.value_or(0);
  if (ingress && m.vxlan->vni) {
    r.vni = *m.vxlan->vni;
  }
  for (const flowrules::Action& action : flow.rule.actions) {
    if (const auto* encap = std::get_if<flowrules::VxlanEncapAction>(&action)) {
      r.vni = encap->vni;
    }
  }
  r.actions = ActionSummary(flow.rule.actions);
  r.packets = flow.packets;
  r.bytes = flow.bytes;
  r.software = flow.in_software;
  r.reverse_id = flow.reverse_id;
  return r;
}

std::vector<api::FlowRecord> FlowTableAdapter::ListFlows(absl::string_view vnic, uint64_t after_id,
                                                         size_t limit) {
  std::vector<api::FlowRecord> out;
  for (const flows::FlowInfo& flow : flows_.List(std::string(vnic), after_id, limit)) {
    out.push_back(ToRecord(flow));
  }
  return out;
}

absl::StatusOr<uint64_t> FlowTableAdapter::FlushFlows(absl::string_view vnic) {
  const uint64_t errors_before = flows_.stats().device_errors;
  const size_t removed = flows_.Flush(std::string(vnic));
  const uint64_t errors = flows_.stats().device_errors - errors_before;
  if (errors > 0) {
    return absl::InternalError(absl::StrCat("flushed ", removed, " flow directions; the device ",
                                            "failed to remove ", errors, " of their rules"));
  }
  return removed;
}

api::FlowTableView::Stats FlowTableAdapter::GetStats() {
  const flows::FlowManagerStats s = flows_.stats();
  Stats out;
  out.applied_revision = flows_.applied_revision();
  out.flows = s.flows;
  out.software_flows = s.software_flows;
  if (slow_path_ != nullptr) {
    const flows::VnicTotals totals = flows_.TotalsAll();
    const slowpath::SlowPathStats sp = slow_path_->stats();
    out.has_datapath = true;
    // Software-forwarded packets of refused flows are counted in the flows' totals too.
    out.fast_path_packets = totals.packets - std::min(totals.packets, totals.software_packets);
    out.fast_path_bytes = totals.bytes;
    out.exceptions = sp.exceptions;
    out.flow_setups = sp.flow_setups;
    out.first_packets = sp.first_packets;
    out.software_packets = sp.software_packets;
    out.arp_replies = sp.arp_replies;
    out.rate_limited = sp.rate_limited;
    for (int i = 0; i < slowpath::kDropReasonCount; ++i) {
      if (sp.drops[i] != 0) {
        out.drops_by_reason.emplace_back(
            slowpath::DropReasonName(static_cast<slowpath::DropReason>(i)), sp.drops[i]);
      }
    }
  }
  if (probed_ != nullptr) {
    for (const device::ShapeCapability& c : probed_->capabilities().shapes()) {
      Stats::ShapeCapability shape;
      shape.shape = std::string(device::RuleShapeName(c.shape));
      shape.offloaded = c.supported;
      shape.error = device::ErrnoName(c.error_number);
      shape.reason = c.reason;
      shape.mandatory = c.mandatory;
      shape.software_rules = probed_->software_rules(c.shape);
      out.capabilities.push_back(std::move(shape));
    }
  }
  return out;
}

}  // namespace nicswitch::agent
