#include "soc_agent/slowpath/slow_path.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

#include "soc_agent/slowpath/soft_actions.h"
#include "spdlog/spdlog.h"

namespace nicswitch::slowpath {
namespace {

using flows::Dependency;
using policy::PolicyChange;

// The entities a change affects, as flow dependencies.
void ChangedDependencies(const PolicyChange& change, std::vector<Dependency>& out) {
  const v1::Entity& e = change.entity;
  switch (e.kind_case()) {
    case v1::Entity::kUnderlay:
      out.push_back({Dependency::Kind::kUnderlay, ""});
      break;
    case v1::Entity::kVpc:
      out.push_back({Dependency::Kind::kVpc, e.vpc().name()});
      out.push_back({Dependency::Kind::kRoute, RouteTableDependencyName(e.vpc().name())});
      break;
    case v1::Entity::kVnic:
      out.push_back({Dependency::Kind::kVnic, e.vnic().name()});
      out.push_back({Dependency::Kind::kRoute, RouteTableDependencyName(e.vnic().vpc())});
      break;
    case v1::Entity::kMapping:
      out.push_back({Dependency::Kind::kMapping, e.mapping().name()});
      out.push_back({Dependency::Kind::kRoute, RouteTableDependencyName(e.mapping().vpc())});
      break;
    case v1::Entity::kRoute:
      out.push_back({Dependency::Kind::kRoute, e.route().name()});
      out.push_back({Dependency::Kind::kRoute, RouteTableDependencyName(e.route().vpc())});
      break;
    case v1::Entity::kSecurityGroup:
      out.push_back({Dependency::Kind::kSecurityGroup, e.security_group().name()});
      break;
    case v1::Entity::KIND_NOT_SET:
      break;
  }
}

}  // namespace

uint64_t SlowPathStats::total_drops() const {
  uint64_t total = 0;
  for (uint64_t d : drops) {
    total += d;
  }
  return total;
}

policy::PolicyBatch SnapshotBatch(std::vector<v1::Entity> entities, uint64_t revision) {
  policy::PolicyBatch batch;
  batch.revision = revision;
  for (v1::Entity& entity : entities) {
    batch.changes.push_back(PolicyChange{PolicyChange::Op::kPut, std::move(entity)});
  }
  return batch;
}

SlowPath::SlowPath(device::FlowDevice& device, flows::FlowManager& flows, SwitchPorts ports,
                   SlowPathOptions options)
    : device_(device),
      flows_(flows),
      ports_(std::move(ports)),
      options_(options),
      engine_(replica_, ports_, options_.decision),
      limiter_(static_cast<uint32_t>(ports_.vf.size() + 1), options_.exceptions_per_second_per_vnic,
               options_.exception_burst, rte_get_tsc_hz()) {
  poll_ports_.push_back(ports_.uplink);
  poll_ports_.insert(poll_ports_.end(), ports_.vf.begin(), ports_.vf.end());
}

SlowPath::~SlowPath() = default;

void SlowPath::EnqueueBatch(policy::PolicyBatch batch) {
  absl::MutexLock lock(&queue_mu_);
  queue_.push_back(std::move(batch));
}

size_t SlowPath::ApplyPendingBatches() {
  std::deque<policy::PolicyBatch> batches;
  {
    absl::MutexLock lock(&queue_mu_);
    batches.swap(queue_);
  }
  for (const policy::PolicyBatch& batch : batches) {
    ApplyBatch(batch);
  }
  return batches.size();
}

void SlowPath::ApplyBatch(const policy::PolicyBatch& batch) {
  std::vector<Dependency> changed;
  for (const PolicyChange& change : batch.changes) {
    if (absl::Status status = replica_.ApplyCommitted(change); !status.ok()) {
      // The writer validated it; a failure here means the replica diverged. Say so loudly and
      // carry on with the rest: the flows it affects are still invalidated below.
      SPDLOG_ERROR("slow path: policy revision {}: cannot apply {}: {}", batch.revision,
                   change.entity.ShortDebugString(), status.ToString());
    }
    ChangedDependencies(change, changed);
  }
  replica_.set_revision(batch.revision);
  // Flows first (they may reference the meters), then meters.
  const size_t removed = flows_.Invalidate(changed, batch.revision);
  for (const PolicyChange& change : batch.changes) {
    UpdateMeters(change);
  }
  replica_revision_.store(batch.revision);
  Bump(counters_.policy_batches);
  SPDLOG_INFO("policy revision {} applied: {} changes, {} flow directions invalidated",
              batch.revision, batch.changes.size(), removed);
}

void SlowPath::UpdateMeters(const PolicyChange& change) {
  if (!change.entity.has_vnic()) {
    return;
  }
  const v1::Vnic& vnic = change.entity.vnic();
  const uint32_t ids[] = {EgressMeterId(options_.decision, vnic.vf_index()),
                          IngressMeterId(options_.decision, vnic.vf_index())};
  for (uint32_t id : ids) {
    soft_meters_.erase(id);
    if (absl::Status status = device_.DestroyMeter(id); !status.ok() && !absl::IsNotFound(status)) {
      SPDLOG_WARN("vnic \"{}\": destroying meter {}: {}", vnic.name(), id, status.ToString());
    }
  }
  if (change.op == PolicyChange::Op::kDelete || vnic.qos().rate_bps() == 0) {
    return;
  }
  device::MeterProfile profile;
  profile.cir_bytes_per_second = vnic.qos().rate_bps() / 8;
  profile.pir_bytes_per_second = profile.cir_bytes_per_second;
  profile.cbs_bytes = std::max<uint64_t>(vnic.qos().burst_bytes(), 1);
  profile.pbs_bytes = profile.cbs_bytes;
  for (uint32_t id : ids) {
    // The software meter exists even when the NIC's could not be created: packets the agent
    // forwards itself are then still held to the vNIC's rate.
    soft_meters_.insert_or_assign(
        id, SoftMeter(profile.cir_bytes_per_second, profile.cbs_bytes, profile.pir_bytes_per_second,
                      profile.pbs_bytes, rte_get_tsc_hz(), rte_get_tsc_cycles()));
    if (absl::Status status = device_.CreateMeter(id, profile); !status.ok()) {
      SPDLOG_ERROR("vnic \"{}\": creating meter {} ({} bit/s): {}", vnic.name(), id,
                   vnic.qos().rate_bps(), status.ToString());
    }
  }
}

size_t SlowPath::PollOnce() {
  ApplyPendingBatches();
  size_t handled = 0;
  rte_mbuf* burst[64];
  const uint16_t n_max = std::min<uint16_t>(options_.burst_size, 64);
  if (pending_.size() < n_max) {
    pending_.resize(n_max);
  }
  for (uint16_t port : poll_ports_) {
    const uint16_t n = rte_eth_rx_burst(port, 0, burst, n_max);
    for (uint16_t i = 0; i < n; ++i) {
      Handle(port, burst[i]);
    }
    if (num_pending_ > 0) {
      InstallPending();
    }
    handled += n;
  }
  return handled;
}

void SlowPath::InstallPending() {
  pending_specs_.clear();
  for (size_t i = 0; i < num_pending_; ++i) {
    pending_specs_.push_back(&pending_[i].decision.flow);
  }
  const std::vector<flows::FlowManager::InstallResult> results =
      flows_.InstallBatch(pending_specs_);
  for (size_t i = 0; i < num_pending_; ++i) {
    PendingSetup& p = pending_[i];
    const flowrules::Rule& rule = p.decision.flow.forward.rule;
    if (!results[i].id.ok()) {
      SPDLOG_ERROR("slow path: flow {} not installed: {}", rule.ToString(),
                   results[i].id.status().ToString());
    } else if (!results[i].created) {
      // Another packet of this burst set the flow up already: forward this one as a packet of
      // an installed flow (as if it had been looked up after the first one's setup).
      std::optional<flows::FlowInfo> flow = flows_.Lookup(rule.match);
      const uint32_t length = rte_pktmbuf_pkt_len(p.packet);
      if (Forward(flow.has_value() ? flow->rule.actions : rule.actions, p.packet)) {
        Bump(counters_.software_packets);
        if (flow.has_value() && flow->in_software) {
          flows_.CountSoftwarePacket(flow->id, length);
        }
      }
      p.packet = nullptr;
      continue;
    } else {
      Bump(counters_.flow_setups);
    }
    if (Forward(rule.actions, p.packet)) {
      Bump(counters_.first_packets);
    }
    p.packet = nullptr;
  }
  num_pending_ = 0;
}

uint32_t SlowPath::LimiterSlot(uint16_t in_port) const {
  const auto vf = std::find(ports_.vf.begin(), ports_.vf.end(), in_port);
  return vf == ports_.vf.end() ? static_cast<uint32_t>(ports_.vf.size())
                               : static_cast<uint32_t>(vf - ports_.vf.begin());
}

void SlowPath::Handle(uint16_t in_port, rte_mbuf* m) {
  Bump(counters_.exceptions);
  if (!limiter_.Admit(LimiterSlot(in_port), rte_get_tsc_cycles())) {
    Bump(counters_.rate_limited);
    rte_pktmbuf_free(m);
    return;
  }
  if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
    Drop(DropReason::kMalformed, m);
    return;
  }
  const uint8_t* data = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint16_t vxlan_port =
      replica_.underlay() != nullptr ? replica_.underlay()->vxlan_port : 4789;
  absl::StatusOr<ParsedPacket> packet = ParsePacket(data, rte_pktmbuf_data_len(m), vxlan_port);
  if (!packet.ok()) {
    SPDLOG_DEBUG("slow path: port {}: {}", in_port, std::string(packet.status().message()));
    Drop(DropReason::kMalformed, m);
    return;
  }

  // A packet of a flow that is already installed: either the device refused it (a software
  // flow) or it raced the rule's creation. Either way forward it with the flow's actions.
  if (std::optional<flowrules::Match> match = engine_.FlowMatch(in_port, *packet)) {
    if (std::optional<flows::FlowInfo> flow = flows_.Lookup(*match)) {
      const uint32_t length = rte_pktmbuf_pkt_len(m);
      if (Forward(flow->rule.actions, m)) {
        Bump(counters_.software_packets);
        if (flow->in_software) {
          flows_.CountSoftwarePacket(flow->id, length);
        }
      }
      return;
    }
  }

  Decision decision = engine_.Decide(in_port, *packet);
  switch (decision.verdict) {
    case Decision::Verdict::kDrop: {
      // Log the 1st, 2nd, 4th, 8th... drop of each reason: enough to diagnose, never a flood.
      const uint64_t n =
          counters_.drops[static_cast<int>(decision.drop_reason)].load(std::memory_order_relaxed) +
          1;
      if ((n & (n - 1)) == 0) {
        SPDLOG_INFO("slow path: drop #{} ({}): {}", n, DropReasonName(decision.drop_reason),
                    decision.detail);
      }
      Drop(decision.drop_reason, m);
      return;
    }
    case Decision::Verdict::kArpReply: {
      // Reuse the request's mbuf for the reply (an ARP request is at least as long).
      if (m->buf_len - m->data_off < decision.arp_reply.size()) {
        Drop(DropReason::kMalformed, m);
        return;
      }
      std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), decision.arp_reply.data(),
                  decision.arp_reply.size());
      m->data_len = static_cast<uint16_t>(decision.arp_reply.size());
      m->pkt_len = m->data_len;
      if (rte_eth_tx_burst(decision.reply_port, 0, &m, 1) == 1) {
        Bump(counters_.arp_replies);
      } else {
        Bump(counters_.tx_failed);
        rte_pktmbuf_free(m);
      }
      return;
    }
    case Decision::Verdict::kForward: {
      // Installed with the rest of the burst's new flows, then forwarded (InstallPending).
      PendingSetup& p = pending_[num_pending_++];
      p.packet = m;
      p.decision = std::move(decision);
      return;
    }
  }
}

bool SlowPath::Forward(const std::vector<flowrules::Action>& actions, rte_mbuf* m) {
  for (const flowrules::Action& action : actions) {
    const auto* meter = std::get_if<flowrules::MeterAction>(&action);
    if (meter == nullptr) {
      continue;
    }
    auto it = soft_meters_.find(meter->meter_id);
    if (it != soft_meters_.end() &&
        it->second.Mark(rte_pktmbuf_pkt_len(m), rte_get_tsc_cycles()) == SoftMeter::Colour::kRed) {
      Drop(DropReason::kMeterRed, m);
      return false;
    }
  }
  FrameRef frame{rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m), rte_pktmbuf_headroom(m)};
  const uint16_t vxlan_port =
      replica_.underlay() != nullptr ? replica_.underlay()->vxlan_port : 4789;
  absl::StatusOr<SoftFate> fate = ApplyActions(actions, frame, vxlan_port);
  if (!fate.ok()) {
    SPDLOG_DEBUG("slow path: software actions failed: {}", std::string(fate.status().message()));
    Bump(counters_.action_failed);
    rte_pktmbuf_free(m);
    return false;
  }
  if (fate->kind != SoftFate::Kind::kRepresentedPort) {
    // Drop, or a fate back towards the agent (which would loop): not forwarded.
    rte_pktmbuf_free(m);
    return false;
  }
  m->data_off = static_cast<uint16_t>(frame.data - static_cast<uint8_t*>(m->buf_addr));
  m->data_len = static_cast<uint16_t>(frame.length);
  m->pkt_len = frame.length;
  uint16_t out = static_cast<uint16_t>(fate->value);
  if (rte_eth_tx_burst(out, 0, &m, 1) != 1) {
    Bump(counters_.tx_failed);
    rte_pktmbuf_free(m);
    return false;
  }
  return true;
}

void SlowPath::Drop(DropReason reason, rte_mbuf* m) {
  Bump(counters_.drops[static_cast<int>(reason)]);
  rte_pktmbuf_free(m);
}

SlowPathStats SlowPath::stats() const {
  SlowPathStats s;
  s.exceptions = counters_.exceptions.load(std::memory_order_relaxed);
  s.flow_setups = counters_.flow_setups.load(std::memory_order_relaxed);
  s.first_packets = counters_.first_packets.load(std::memory_order_relaxed);
  s.software_packets = counters_.software_packets.load(std::memory_order_relaxed);
  s.arp_replies = counters_.arp_replies.load(std::memory_order_relaxed);
  s.rate_limited = counters_.rate_limited.load(std::memory_order_relaxed);
  s.tx_failed = counters_.tx_failed.load(std::memory_order_relaxed);
  s.action_failed = counters_.action_failed.load(std::memory_order_relaxed);
  s.policy_batches = counters_.policy_batches.load(std::memory_order_relaxed);
  for (int i = 0; i < kDropReasonCount; ++i) {
    s.drops[i] = counters_.drops[i].load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace nicswitch::slowpath
