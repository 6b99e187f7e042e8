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
// Written into `installed` (a reused slot keeps its action vector's capacity).
void WithAccounting(const flowrules::Rule& rule, uint32_t age_seconds, flowrules::Rule& installed) {
  installed.group = rule.group;
  installed.priority = rule.priority;
  installed.direction = rule.direction;
  installed.match = rule.match;
  installed.actions.clear();
  installed.actions.reserve(rule.actions.size() + 2);
  installed.actions.push_back(flowrules::CountAction{});
  installed.actions.push_back(flowrules::AgeAction{age_seconds});
  for (const auto& action : rule.actions) {
    if (!std::holds_alternative<flowrules::CountAction>(action) &&
        !std::holds_alternative<flowrules::AgeAction>(action)) {
      installed.actions.push_back(action);
    }
  }
}

}  // namespace

std::string Dependency::ToString() const { return absl::StrCat(KindName(kind), "/", name); }

FlowManager::FlowManager(device::FlowDevice& device, Options options)
    : device_(device), options_(options), by_match_(0, SlotHash{this}, SlotEq{this}) {}

FlowManager::~FlowManager() = default;

absl::Status FlowManager::CheckSpec(const FlowSpec& spec) {
  if (spec.reverse.has_value() && spec.reverse->rule.match == spec.forward.rule.match) {
    return absl::InvalidArgumentError("flow: forward and reverse rules have the same match");
  }
  return absl::OkStatus();
}

absl::StatusOr<FlowId> FlowManager::Install(const FlowSpec& spec) {
  const FlowSpec* one[] = {&spec};
  std::vector<InstallResult> results = InstallBatch(one);
  return std::move(results[0].id);
}

std::vector<FlowManager::InstallResult> FlowManager::InstallBatch(
    absl::Span<const FlowSpec* const> specs) {
  std::vector<InstallResult> results(specs.size());
  absl::MutexLock lock(&mu_);
  pending_.clear();
  for (size_t i = 0; i < specs.size(); ++i) {
    const FlowSpec& spec = *specs[i];
    if (absl::Status status = CheckSpec(spec); !status.ok()) {
      results[i].id = status;
      continue;
    }
    const uint32_t existing = FindMatch(KeyOf(spec.forward.rule.match));
    if (existing != kNoLink) {
      results[i].id = At(existing).id;  // a racing exception of the same flow: keep it
      continue;
    }
    if (spec.reverse.has_value()) {
      // The reverse direction exists as some other flow's direction (e.g. a stale pair);
      // replace it so the new pair is consistent.
      const uint32_t stale = FindMatch(KeyOf(spec.reverse->rule.match));
      if (stale != kNoLink) {
        RemovePair(At(stale).id);
      }
    }
    results[i].id = At(AddFlow(spec)).id;
    results[i].created = true;
    ++stats_.installs;
  }
  CreatePending();
  return results;
}

uint32_t FlowManager::AddFlow(const FlowSpec& spec) {
  const uint32_t forward = AddDirection(spec.forward, spec, 0);
  pending_.push_back(Pending{forward, At(forward).id});
  for (const Dependency& dep : spec.dependencies) {
    LinkDependency(forward, dep);
  }
  if (spec.reverse.has_value()) {
    const uint32_t reverse = AddDirection(*spec.reverse, spec, At(forward).id);
    At(forward).reverse_id = At(reverse).id;
    pending_.push_back(Pending{reverse, At(reverse).id});
  }
  return forward;
}

uint32_t FlowManager::AddDirection(const DirectionSpec& spec, const FlowSpec& flow,
                                   FlowId reverse_id) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    if ((slots_used_ >> kChunkBits) == chunks_.size()) {
      chunks_.push_back(std::make_unique<Direction[]>(size_t{1} << kChunkBits));
    }
    slot = slots_used_++;
  }
  Direction& d = At(slot);
  d.id = next_id_++;
  d.reverse_id = reverse_id;
  d.vnic = spec.vnic;
  WithAccounting(spec.rule, options_.age_seconds, d.rule);
  d.match_hash = absl::Hash<flowrules::Match>{}(d.rule.match);
  d.handle.reset();
  d.software_reason.clear();
  d.packets = 0;
  d.bytes = 0;
  d.aged = false;
  d.revision = flow.revision;
  d.links.clear();
  slot_by_id_.emplace(d.id, slot);
  by_match_.insert(slot);
  return slot;
}

void FlowManager::CreatePending() {
  // A pair replaced later in the same batch was removed from the table before its rules were
  // created: skip its entries (its slots may hold a newer direction, with its own entry).
  pending_rules_.clear();
  std::vector<uint32_t> slots;
  slots.reserve(pending_.size());
  for (const Pending& p : pending_) {
    if (At(p.slot).id == p.id) {
      slots.push_back(p.slot);
      pending_rules_.push_back(&At(p.slot).rule);
    }
  }
  if (slots.empty()) {
    return;
  }
  std::vector<absl::StatusOr<device::RuleHandle>> handles = device_.CreateRules(pending_rules_);
  for (size_t i = 0; i < slots.size(); ++i) {
    Direction& d = At(slots[i]);
    if (i < handles.size() && handles[i].ok()) {
      d.handle = *handles[i];
      by_handle_[handles[i]->value] = slots[i];
      continue;
    }
    const absl::Status status = i < handles.size()
                                    ? handles[i].status()
                                    : absl::InternalError("the device returned too few results");
    d.software_reason = std::string(status.message());
    ++stats_.refused;
    SPDLOG_INFO("flow {} forwarded in software: the device refused {}: {}", d.id, d.rule.ToString(),
                status.ToString());
  }
}

void FlowManager::LinkDependency(uint32_t slot, const Dependency& dep) {
  auto [it, inserted] = dependency_index_.try_emplace(dep, 0);
  if (inserted) {
    if (!free_dependencies_.empty()) {
      it->second = free_dependencies_.back();
      free_dependencies_.pop_back();
      dependencies_[it->second] = DependencyList{dep, kNoLink, 0};
    } else {
      it->second = static_cast<uint32_t>(dependencies_.size());
      dependencies_.push_back(DependencyList{dep, kNoLink, 0});
    }
  }
  DependencyList& list = dependencies_[it->second];
  // One link per (direction, dependency), even when a spec names a dependency twice.
  for (uint32_t l : At(slot).links) {
    if (links_[l].dependency == it->second) {
      return;
    }
  }
  uint32_t link;
  if (!free_links_.empty()) {
    link = free_links_.back();
    free_links_.pop_back();
  } else {
    link = static_cast<uint32_t>(links_.size());
    links_.emplace_back();
  }
  links_[link] = Link{it->second, slot, kNoLink, list.head};
  if (list.head != kNoLink) {
    links_[list.head].prev = link;
  }
  list.head = link;
  list.size++;
  At(slot).links.push_back(link);
}

void FlowManager::UnlinkAll(Direction& d) {
  for (uint32_t link : d.links) {
    const Link& l = links_[link];
    DependencyList& list = dependencies_[l.dependency];
    if (l.prev != kNoLink) {
      links_[l.prev].next = l.next;
    } else {
      list.head = l.next;
    }
    if (l.next != kNoLink) {
      links_[l.next].prev = l.prev;
    }
    if (--list.size == 0) {
      dependency_index_.erase(list.dependency);
      free_dependencies_.push_back(l.dependency);
    }
    free_links_.push_back(link);
  }
  d.links.clear();
}

uint32_t FlowManager::FindMatch(const MatchKey& key) const {
  auto it = by_match_.find(key);
  return it == by_match_.end() ? kNoLink : *it;
}

uint32_t FlowManager::SlotOf(FlowId id) const {
  auto it = slot_by_id_.find(id);
  return it == slot_by_id_.end() ? kNoLink : it->second;
}

std::optional<FlowInfo> FlowManager::Lookup(const flowrules::Match& match) const {
  const MatchKey key = KeyOf(match);
  absl::MutexLock lock(&mu_);
  const uint32_t slot = FindMatch(key);
  if (slot == kNoLink) {
    return std::nullopt;
  }
  return Snapshot(At(slot));
}

void FlowManager::CountSoftwarePacket(FlowId id, uint32_t bytes) {
  absl::MutexLock lock(&mu_);
  const uint32_t slot = SlotOf(id);
  if (slot == kNoLink) {
    return;
  }
  Direction& d = At(slot);
  d.packets += 1;
  d.bytes += bytes;
  retired_[d.vnic].software_packets += 1;
}

size_t FlowManager::Invalidate(const std::vector<Dependency>& changed, uint64_t revision) {
  absl::MutexLock lock(&mu_);
  size_t removed = 0;
  std::vector<FlowId> ids;
  for (const Dependency& dep : changed) {
    auto it = dependency_index_.find(dep);
    if (it == dependency_index_.end()) {
      continue;
    }
    // RemovePair edits the list: collect the ids first.
    ids.clear();
    for (uint32_t l = dependencies_[it->second].head; l != kNoLink; l = links_[l].next) {
      ids.push_back(At(links_[l].slot).id);
    }
    for (FlowId id : ids) {
      if (slot_by_id_.contains(id)) {
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
      At(it->second).aged = true;
    }
  }
  size_t removed = 0;
  for (const device::RuleHandle& handle : *aged) {
    auto it = by_handle_.find(handle.value);
    if (it == by_handle_.end()) {
      continue;  // removed already as the partner of an earlier one
    }
    const Direction& d = At(it->second);
    const uint32_t partner = d.reverse_id != 0 ? SlotOf(d.reverse_id) : kNoLink;
    // A software partner sees its packets counted by the slow path; it never ages in the
    // device, so the hardware direction's age decides.
    const bool partner_idle =
        partner == kNoLink || At(partner).aged || !At(partner).handle.has_value();
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
    for (const auto& [value, slot] : by_handle_) {
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
          Direction& d = At(by_handle_.at(h.value));
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
      Direction& d = At(it->second);
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
  for (const auto& [id, slot] : slot_by_id_) {
    if (id > after && (vnic.empty() || At(slot).vnic == vnic)) {
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
    out.push_back(Snapshot(At(slot_by_id_.at(id))));
  }
  return out;
}

size_t FlowManager::Flush(const std::string& vnic) {
  absl::MutexLock lock(&mu_);
  std::vector<FlowId> ids;
  for (const auto& [id, slot] : slot_by_id_) {
    if (vnic.empty() || At(slot).vnic == vnic) {
      ids.push_back(id);
    }
  }
  size_t removed = 0;
  for (FlowId id : ids) {
    if (slot_by_id_.contains(id)) {
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
  for (const auto& [id, slot] : slot_by_id_) {
    const Direction& d = At(slot);
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
  for (const auto& [id, slot] : slot_by_id_) {
    totals.packets += At(slot).packets;
    totals.bytes += At(slot).bytes;
  }
  return totals;
}

FlowManagerStats FlowManager::stats() const {
  absl::MutexLock lock(&mu_);
  FlowManagerStats s = stats_;
  s.flows = slot_by_id_.size();
  s.software_flows = slot_by_id_.size() - by_handle_.size();
  return s;
}

size_t FlowManager::RemovePair(FlowId id) {
  const FlowId reverse = At(SlotOf(id)).reverse_id;
  RemoveOne(id);
  if (reverse != 0 && slot_by_id_.contains(reverse)) {
    RemoveOne(reverse);
    return 2;
  }
  return 1;
}

void FlowManager::RemoveOne(FlowId id) {
  auto it = slot_by_id_.find(id);
  const uint32_t slot = it->second;
  Direction& d = At(slot);
  if (d.handle.has_value()) {
    if (absl::Status status = device_.DestroyRule(*d.handle); !status.ok()) {
      ++stats_.device_errors;
      SPDLOG_WARN("flow {}: destroying its device rule failed: {}", id, status.ToString());
    }
    by_handle_.erase(d.handle->value);
  }
  UnlinkAll(d);
  by_match_.erase(slot);
  VnicTotals& retired = retired_[d.vnic];
  retired.packets += d.packets;
  retired.bytes += d.bytes;
  // The reverse direction must not point at a removed id.
  if (d.reverse_id != 0) {
    if (const uint32_t partner = SlotOf(d.reverse_id); partner != kNoLink) {
      At(partner).reverse_id = 0;
    }
  }
  slot_by_id_.erase(it);
  d.id = 0;
  d.handle.reset();
  free_slots_.push_back(slot);
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
