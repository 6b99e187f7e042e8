#include "soc_agent/flows/flow_manager.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace nicswitch::flows {
namespace {

constexpr absl::string_view KindName(Dependency::Kind kind) {
  switch (kind) {
    case Dependency::Kind::kUnderlay:
      return "underlay";
    case Dependency::Kind::kVpc:
      return "vpc";
    case Dependency::Kind::kVnic:
      return "vnic";
    case Dependency::Kind::kMapping:
      return "mapping";
    case Dependency::Kind::kRoute:
      return "route";
    case Dependency::Kind::kSecurityGroup:
      return "sg";
  }
  return "?";
}

// The installed form of a decided rule: COUNT and AGE first, then the decision's actions.
flowrules::Rule WithAccounting(const flowrules::Rule& rule, uint32_t age_seconds) {
  flowrules::Rule installed = rule;
  installed.actions.clear();
  installed.actions.push_back(flowrules::CountAction{});
  installed.actions.push_back(flowrules::AgeAction{age_seconds});
  for (const auto& action : rule.actions) {
    if (!std::holds_alternative<flowrules::CountAction>(action) &&
        !std::holds_alternative<flowrules::AgeAction>(action)) {
      installed.actions.push_back(action);
    }
  }
  return installed;
}

}  // namespace

std::string Dependency::ToString() const { return absl::StrCat(KindName(kind), "/", name); }

FlowManager::FlowManager(device::FlowDevice& device, Options options)
    : device_(device), options_(options) {}

FlowManager::~FlowManager() = default;

absl::StatusOr<FlowId> FlowManager::Install(const FlowSpec& spec) {
  if (spec.reverse.has_value() && spec.reverse->rule.match == spec.forward.rule.match) {
    return absl::InvalidArgumentError("flow: forward and reverse rules have the same match");
  }
  absl::MutexLock lock(&mu_);
  if (auto it = by_match_.find(spec.forward.rule.match); it != by_match_.end()) {
    return it->second;  // a racing exception of the same flow: keep the installed one
  }
  if (spec.reverse.has_value() && by_match_.contains(spec.reverse->rule.match)) {
    // The reverse direction exists as some other flow's direction (e.g. a stale pair); replace
    // it so the new pair is consistent.
    RemovePair(by_match_.at(spec.reverse->rule.match));
  }
  const FlowId forward = InstallDirection(spec.forward, spec, 0);
  if (spec.reverse.has_value()) {
    const FlowId reverse = InstallDirection(*spec.reverse, spec, forward);
    flows_.at(forward).reverse_id = reverse;
  }
  ++stats_.installs;
  return forward;
}

FlowId FlowManager::InstallDirection(const DirectionSpec& spec, const FlowSpec& flow,
                                     FlowId reverse_id) {
  Direction d;
  d.id = next_id_++;
  d.reverse_id = reverse_id;
  d.vnic = spec.vnic;
  d.rule = WithAccounting(spec.rule, options_.age_seconds);
  d.revision = flow.revision;
  d.dependencies = flow.dependencies;
  absl::StatusOr<device::RuleHandle> handle = device_.CreateRule(d.rule);
  if (handle.ok()) {
    d.handle = *handle;
    by_handle_[handle->value] = d.id;
  } else {
    d.software_reason = std::string(handle.status().message());
    ++stats_.refused;
    SPDLOG_INFO("flow {} forwarded in software: the device refused {}: {}", d.id, d.rule.ToString(),
                handle.status().ToString());
  }
  for (const Dependency& dep : d.dependencies) {
    by_dependency_[dep].insert(d.id);
  }
  by_match_[d.rule.match] = d.id;
  const FlowId id = d.id;
  flows_.emplace(id, std::move(d));
  return id;
}

std::optional<FlowInfo> FlowManager::Lookup(const flowrules::Match& match) const {
  absl::MutexLock lock(&mu_);
  auto it = by_match_.find(match);
  if (it == by_match_.end()) {
    return std::nullopt;
  }
  return Snapshot(flows_.at(it->second));
}

void FlowManager::CountSoftwarePacket(FlowId id, uint32_t bytes) {
  absl::MutexLock lock(&mu_);
  auto it = flows_.find(id);
  if (it == flows_.end()) {
    return;
  }
  it->second.packets += 1;
  it->second.bytes += bytes;
  retired_[it->second.vnic].software_packets += 1;
}

size_t FlowManager::Invalidate(const std::vector<Dependency>& changed, uint64_t revision) {
  absl::MutexLock lock(&mu_);
  size_t removed = 0;
  for (const Dependency& dep : changed) {
    auto it = by_dependency_.find(dep);
    if (it == by_dependency_.end()) {
      continue;
    }
    // RemovePair edits by_dependency_: work on a copy of the ids.
    const std::vector<FlowId> ids(it->second.begin(), it->second.end());
    for (FlowId id : ids) {
      if (flows_.contains(id)) {
        removed += RemovePair(id);
      }
    }
  }
  stats_.invalidated += removed;
  applied_revision_ = std::max(applied_revision_, revision);
  return removed;
}

void FlowManager::MarkApplied(uint64_t revision) {
  absl::MutexLock lock(&mu_);
  applied_revision_ = std::max(applied_revision_, revision);
}

uint64_t FlowManager::applied_revision() const {
  absl::MutexLock lock(&mu_);
  return applied_revision_;
}

absl::StatusOr<size_t> FlowManager::PollAging() {
  absl::StatusOr<std::vector<device::RuleHandle>> aged = device_.CollectAgedRules();
  if (!aged.ok()) {
    return aged.status();
  }
  absl::MutexLock lock(&mu_);
  for (const device::RuleHandle& handle : *aged) {
    if (auto it = by_handle_.find(handle.value); it != by_handle_.end()) {
      flows_.at(it->second).aged = true;
    }
  }
  size_t removed = 0;
  for (const device::RuleHandle& handle : *aged) {
    auto it = by_handle_.find(handle.value);
    if (it == by_handle_.end()) {
      continue;  // removed already as the partner of an earlier one
    }
    const Direction& d = flows_.at(it->second);
    const auto partner = flows_.find(d.reverse_id);
    // A software partner sees its packets counted by the slow path; it never ages in the
    // device, so the hardware direction's age decides.
    const bool partner_idle =
        partner == flows_.end() || partner->second.aged || !partner->second.handle.has_value();
    if (partner_idle) {
      removed += RemovePair(d.id);
    }
  }
  stats_.aged += removed;
  return removed;
}

absl::Status FlowManager::PollCounters() {
  // Collect the handles under the lock, query without it (the device call may be slow), then
  // apply the results to the flows that still exist.
  std::vector<device::RuleHandle> handles;
  {
    absl::MutexLock lock(&mu_);
    handles.reserve(by_handle_.size());
    for (const auto& [value, id] : by_handle_) {
      handles.push_back(device::RuleHandle{value});
    }
  }
  for (size_t start = 0; start < handles.size(); start += options_.counter_batch) {
    const size_t n = std::min(options_.counter_batch, handles.size() - start);
    absl::Span<const device::RuleHandle> batch(handles.data() + start, n);
    absl::StatusOr<std::vector<device::RuleCounters>> counters = device_.QueryCounters(batch);
    absl::MutexLock lock(&mu_);
    if (!counters.ok()) {
      // A handle removed meanwhile makes the batch fail; query the survivors one by one.
      ++stats_.device_errors;
      for (const device::RuleHandle& h : batch) {
        if (!by_handle_.contains(h.value)) {
          continue;
        }
        absl::StatusOr<std::vector<device::RuleCounters>> one =
            device_.QueryCounters(absl::MakeConstSpan(&h, 1));
        if (one.ok() && one->size() == 1) {
          Direction& d = flows_.at(by_handle_.at(h.value));
          if ((*one)[0].packets > d.packets) {
            d.aged = false;
          }
          d.packets = (*one)[0].packets;
          d.bytes = (*one)[0].bytes;
        }
      }
      continue;
    }
    for (size_t i = 0; i < n && i < counters->size(); ++i) {
      auto it = by_handle_.find(batch[i].value);
      if (it == by_handle_.end()) {
        continue;
      }
      Direction& d = flows_.at(it->second);
      if ((*counters)[i].packets > d.packets) {
        d.aged = false;  // hit again since it was reported
      }
      d.packets = (*counters)[i].packets;
      d.bytes = (*counters)[i].bytes;
    }
  }
  return absl::OkStatus();
}

std::vector<FlowInfo> FlowManager::List(const std::string& vnic, FlowId after, size_t limit) const {
  absl::MutexLock lock(&mu_);
  std::vector<FlowId> ids;
  for (const auto& [id, d] : flows_) {
    if (id > after && (vnic.empty() || d.vnic == vnic)) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  if (ids.size() > limit) {
    ids.resize(limit);
  }
  std::vector<FlowInfo> out;
  out.reserve(ids.size());
  for (FlowId id : ids) {
    out.push_back(Snapshot(flows_.at(id)));
  }
  return out;
}

size_t FlowManager::Flush(const std::string& vnic) {
  absl::MutexLock lock(&mu_);
  std::vector<FlowId> ids;
  for (const auto& [id, d] : flows_) {
    if (vnic.empty() || d.vnic == vnic) {
      ids.push_back(id);
    }
  }
  size_t removed = 0;
  for (FlowId id : ids) {
    if (flows_.contains(id)) {
      removed += RemovePair(id);
    }
  }
  return removed;
}

VnicTotals FlowManager::Totals(const std::string& vnic) const {
  absl::MutexLock lock(&mu_);
  VnicTotals totals;
  if (auto it = retired_.find(vnic); it != retired_.end()) {
    totals = it->second;
  }
  for (const auto& [id, d] : flows_) {
    if (d.vnic == vnic) {
      totals.packets += d.packets;
      totals.bytes += d.bytes;
    }
  }
  return totals;
}

VnicTotals FlowManager::TotalsAll() const {
  absl::MutexLock lock(&mu_);
  VnicTotals totals;
  for (const auto& [vnic, retired] : retired_) {
    totals.packets += retired.packets;
    totals.bytes += retired.bytes;
    totals.software_packets += retired.software_packets;
  }
  for (const auto& [id, d] : flows_) {
    totals.packets += d.packets;
    totals.bytes += d.bytes;
  }
  return totals;
}

FlowManagerStats FlowManager::stats() const {
  absl::MutexLock lock(&mu_);
  FlowManagerStats s = stats_;
  s.flows = flows_.size();
  s.software_flows = flows_.size() - by_handle_.size();
  return s;
}

size_t FlowManager::RemovePair(FlowId id) {
  const FlowId reverse = flows_.at(id).reverse_id;
  RemoveOne(id);
  if (reverse != 0 && flows_.contains(reverse)) {
    RemoveOne(reverse);
    return 2;
  }
  return 1;
}

void FlowManager::RemoveOne(FlowId id) {
  auto it = flows_.find(id);
  Direction& d = it->second;
  if (d.handle.has_value()) {
    if (absl::Status status = device_.DestroyRule(*d.handle); !status.ok()) {
      ++stats_.device_errors;
      SPDLOG_WARN("flow {}: destroying its device rule failed: {}", id, status.ToString());
    }
    by_handle_.erase(d.handle->value);
  }
  for (const Dependency& dep : d.dependencies) {
    if (auto deps = by_dependency_.find(dep); deps != by_dependency_.end()) {
      deps->second.erase(id);
      if (deps->second.empty()) {
        by_dependency_.erase(deps);
      }
    }
  }
  if (auto m = by_match_.find(d.rule.match); m != by_match_.end() && m->second == id) {
    by_match_.erase(m);
  }
  VnicTotals& retired = retired_[d.vnic];
  retired.packets += d.packets;
  retired.bytes += d.bytes;
  // The reverse direction must not point at a removed id.
  if (d.reverse_id != 0) {
    if (auto partner = flows_.find(d.reverse_id); partner != flows_.end()) {
      partner->second.reverse_id = 0;
    }
  }
  flows_.erase(it);
}

FlowInfo FlowManager::Snapshot(const Direction& d) const {
  FlowInfo info;
  info.id = d.id;
  info.reverse_id = d.reverse_id;
  info.vnic = d.vnic;
  info.rule = d.rule;
  info.in_software = !d.handle.has_value();
  info.software_reason = d.software_reason;
  info.packets = d.packets;
  info.bytes = d.bytes;
  info.revision = d.revision;
  return info;
}

}  // namespace nicswitch::flows
