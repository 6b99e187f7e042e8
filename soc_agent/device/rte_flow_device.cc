#include "soc_agent/device/rte_flow_device.h"

#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mtr.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "flowrules/rte_flow.h"
#include "soc_agent/device/rte_flow_names.h"

namespace nicswitch::device {
namespace {

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOTSUP:
    case ENOSYS:
      return absl::StatusCode::kUnimplemented;
    case EINVAL:
    case E2BIG:
      return absl::StatusCode::kInvalidArgument;
    case ENOMEM:
    case ENOSPC:
    case ENOBUFS:
      return absl::StatusCode::kResourceExhausted;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case ENOENT:
    case ENODEV:
      return absl::StatusCode::kNotFound;
    case EBUSY:
    case EPERM:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

std::string ItemName(int type) { return RteFlowItemName(type); }
std::string ActionName(int type) { return RteFlowActionName(type); }

// Names what the PMD blamed: "pattern[2] (IPV4)", "actions[1] (VXLAN_ENCAP)", "attr", ...
std::string Culprit(const rte_flow_error& error, const rte_flow_item* pattern,
                    const rte_flow_action* actions) {
  const void* cause = error.cause;
  if (pattern != nullptr && cause != nullptr) {
    for (int i = 0;; ++i) {
      if (cause == &pattern[i] || cause == pattern[i].spec || cause == pattern[i].mask ||
          cause == pattern[i].last) {
        return absl::StrCat("pattern[", i, "] (", ItemName(pattern[i].type), ")");
      }
      if (pattern[i].type == RTE_FLOW_ITEM_TYPE_END || i > 64) {
        break;
      }
    }
  }
  if (actions != nullptr && cause != nullptr) {
    for (int i = 0;; ++i) {
      if (cause == &actions[i] || cause == actions[i].conf) {
        return absl::StrCat("actions[", i, "] (", ActionName(actions[i].type), ")");
      }
      if (actions[i].type == RTE_FLOW_ACTION_TYPE_END || i > 64) {
        break;
      }
    }
  }
  switch (error.type) {
    case RTE_FLOW_ERROR_TYPE_ATTR:
    case RTE_FLOW_ERROR_TYPE_ATTR_GROUP:
    case RTE_FLOW_ERROR_TYPE_ATTR_PRIORITY:
    case RTE_FLOW_ERROR_TYPE_ATTR_INGRESS:
    case RTE_FLOW_ERROR_TYPE_ATTR_EGRESS:
    case RTE_FLOW_ERROR_TYPE_ATTR_TRANSFER:
      return "attr";
    case RTE_FLOW_ERROR_TYPE_ITEM_NUM:
    case RTE_FLOW_ERROR_TYPE_ITEM:
    case RTE_FLOW_ERROR_TYPE_ITEM_SPEC:
    case RTE_FLOW_ERROR_TYPE_ITEM_MASK:
    case RTE_FLOW_ERROR_TYPE_ITEM_LAST:
      return "pattern";
    case RTE_FLOW_ERROR_TYPE_ACTION_NUM:
    case RTE_FLOW_ERROR_TYPE_ACTION:
    case RTE_FLOW_ERROR_TYPE_ACTION_CONF:
      return "actions";
    default:
      return "rule";
  }
}

absl::Status FlowError(const std::string& call, uint16_t port, int rc, const rte_flow_error& error,
                       const rte_flow_item* pattern = nullptr,
                       const rte_flow_action* actions = nullptr) {
  const int err = rc < 0 ? -rc : rc;
  const std::string reason = absl::StrCat(Culprit(error, pattern, actions), ": ",
                                          error.message != nullptr ? error.message : "no message");
  absl::Status status(CodeForErrno(err), absl::StrCat(call, " on port ", port, " refused ", reason,
                                                      " (", std::strerror(err), ")"));
  if (call == "rte_flow_validate") {
    // The capability probe reads the errno and the short reason back (RefusalOf).
    AttachRefusal(status, err, reason);
  }
  return status;
}

absl::Status MtrError(const std::string& call, uint16_t port, uint32_t id, int rc,
                      const rte_mtr_error& error) {
  const int err = rc < 0 ? -rc : rc;
  const std::string message = error.message != nullptr ? error.message : "no message";
  absl::Status status(CodeForErrno(err),
                      absl::StrCat(call, " on port ", port, " for id ", id, " failed: ", message,
                                   " (", std::strerror(err), ")"));
  AttachRefusal(status, err, absl::StrCat(call, ": ", message));
  return status;
}

// ---- the real calls ----

class DpdkRteFlowApi : public RteFlowApi {
 public:
  ~DpdkRteFlowApi() override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [port, fn] : aged_) {
      rte_eth_dev_callback_unregister(port, RTE_ETH_EVENT_FLOW_AGED, &DpdkRteFlowApi::OnEvent,
                                      fn.get());
    }
  }
  int PickTransferProxy(uint16_t port_id, uint16_t* proxy, rte_flow_error* error) override {
    return rte_flow_pick_transfer_proxy(port_id, proxy, error);
  }
  int Create(uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item* pattern,
             const rte_flow_action* actions, rte_flow** flow, rte_flow_error* error) override {
    *flow = rte_flow_create(port_id, attr, pattern, actions, error);
    return *flow != nullptr ? 0 : -(rte_errno != 0 ? rte_errno : EINVAL);
  }
  int Validate(uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item* pattern,
               const rte_flow_action* actions, rte_flow_error* error) override {
    return rte_flow_validate(port_id, attr, pattern, actions, error);
  }
  int Destroy(uint16_t port_id, rte_flow* flow, rte_flow_error* error) override {
    return rte_flow_destroy(port_id, flow, error);
  }
  int Query(uint16_t port_id, rte_flow* flow, const rte_flow_action* action, void* data,
            rte_flow_error* error) override {
    return rte_flow_query(port_id, flow, action, data, error);
  }
  int GetAgedFlows(uint16_t port_id, void** contexts, uint32_t n, rte_flow_error* error) override {
    return rte_flow_get_aged_flows(port_id, contexts, n, error);
  }
  int RegisterAgedEvent(uint16_t port_id, std::function<void()> on_aged) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto fn = std::make_unique<std::function<void()>>(std::move(on_aged));
    const int rc = rte_eth_dev_callback_register(port_id, RTE_ETH_EVENT_FLOW_AGED,
                                                 &DpdkRteFlowApi::OnEvent, fn.get());
    if (rc == 0) {
      aged_[port_id] = std::move(fn);
    }
    return rc;
  }
  int UnregisterAgedEvent(uint16_t port_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = aged_.find(port_id);
    if (it == aged_.end()) {
      return -ENOENT;
    }
    const int rc = rte_eth_dev_callback_unregister(port_id, RTE_ETH_EVENT_FLOW_AGED,
                                                   &DpdkRteFlowApi::OnEvent, it->second.get());
    aged_.erase(it);
    return rc;
  }
  int MeterProfileAdd(uint16_t port_id, uint32_t id, rte_mtr_meter_profile* profile,
                      rte_mtr_error* error) override {
    return rte_mtr_meter_profile_add(port_id, id, profile, error);
  }
  int MeterProfileDelete(uint16_t port_id, uint32_t id, rte_mtr_error* error) override {
    return rte_mtr_meter_profile_delete(port_id, id, error);
  }
  int MeterPolicyAdd(uint16_t port_id, uint32_t id, rte_mtr_meter_policy_params* policy,
                     rte_mtr_error* error) override {
    return rte_mtr_meter_policy_add(port_id, id, policy, error);
  }
  int MeterPolicyDelete(uint16_t port_id, uint32_t id, rte_mtr_error* error) override {
    return rte_mtr_meter_policy_delete(port_id, id, error);
  }
  int MeterCreate(uint16_t port_id, uint32_t id, rte_mtr_params* params, int shared,
                  rte_mtr_error* error) override {
    return rte_mtr_create(port_id, id, params, shared, error);
  }
  int MeterDestroy(uint16_t port_id, uint32_t id, rte_mtr_error* error) override {
    return rte_mtr_destroy(port_id, id, error);
  }
  int MeterStatsRead(uint16_t port_id, uint32_t id, rte_mtr_stats* stats, uint64_t* mask, int clear,
                     rte_mtr_error* error) override {
    return rte_mtr_stats_read(port_id, id, stats, mask, clear, error);
  }

 private:
  static int OnEvent(uint16_t /*port*/, rte_eth_event_type /*type*/, void* arg, void* /*ret*/) {
    (*static_cast<std::function<void()>*>(arg))();
    return 0;
  }
  std::mutex mu_;
  std::map<uint16_t, std::unique_ptr<std::function<void()>>> aged_;
};

}  // namespace

std::unique_ptr<RteFlowApi> MakeDpdkRteFlowApi() { return std::make_unique<DpdkRteFlowApi>(); }

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<RteFlowDevice>> RteFlowDevice::Create(
    RteFlowApi& api, const RteFlowDeviceConfig& config) {
  rte_flow_error error{};
  uint16_t proxy = 0;
  const int rc = api.PickTransferProxy(config.port_id, &proxy, &error);
  if (rc != 0) {
    return FlowError("rte_flow_pick_transfer_proxy", config.port_id, rc, error);
  }
  std::unique_ptr<RteFlowDevice> device(new RteFlowDevice(api, config, proxy));
  RteFlowDevice* self = device.get();
  const int reg = api.RegisterAgedEvent(proxy, [self] { self->aged_event_ = true; });
  if (reg != 0) {
    return absl::Status(CodeForErrno(-reg),
                        absl::StrCat("cannot register for RTE_ETH_EVENT_FLOW_AGED on port ", proxy,
                                     ": ", std::strerror(-reg)));
  }
  return device;
}

RteFlowDevice::~RteFlowDevice() { api_.UnregisterAgedEvent(proxy_); }

absl::Status RteFlowDevice::CheckRule(const flowrules::Rule& rule, bool* counted,
                                      std::vector<uint32_t>* meters) const {
  if (rule.direction != flowrules::Direction::kTransfer) {
    return absl::InvalidArgumentError(
        absl::StrCat("rule \"", rule.ToString(), "\": only transfer rules go to the switch"));
  }
  for (const auto& action : rule.actions) {
    if (std::holds_alternative<flowrules::CountAction>(action)) {
      *counted = true;
    } else if (const auto* m = std::get_if<flowrules::MeterAction>(&action)) {
      if (!meter_refs_.contains(m->meter_id)) {
        return absl::NotFoundError(absl::StrCat("meter ", m->meter_id, " does not exist"));
      }
      meters->push_back(m->meter_id);
    }
  }
  return absl::OkStatus();
}

absl::Status RteFlowDevice::ValidateRule(const flowrules::Rule& rule) {
  bool counted = false;
  std::vector<uint32_t> meters;
  RETURN_IF_ERROR(CheckRule(rule, &counted, &meters));
  ASSIGN_OR_RETURN(flowrules::CompiledRule compiled, flowrules::CompiledRule::Compile(rule));
  rte_flow_error error{};
  const int rc =
      api_.Validate(proxy_, compiled.attr(), compiled.pattern(), compiled.actions(), &error);
  if (rc != 0) {
    return FlowError("rte_flow_validate", proxy_, rc, error, compiled.pattern(),
                     compiled.actions());
  }
  return absl::OkStatus();
}

absl::StatusOr<RuleHandle> RteFlowDevice::CreateRule(const flowrules::Rule& rule) {
  Installed installed{nullptr, false, {}};
  RETURN_IF_ERROR(CheckRule(rule, &installed.counted, &installed.meters));
  ASSIGN_OR_RETURN(flowrules::CompiledRule compiled, flowrules::CompiledRule::Compile(rule));
  rte_flow_error error{};
  const int rc = api_.Create(proxy_, compiled.attr(), compiled.pattern(), compiled.actions(),
                             &installed.flow, &error);
  if (rc != 0 || installed.flow == nullptr) {
    return FlowError("rte_flow_create", proxy_, rc != 0 ? rc : -EINVAL, error, compiled.pattern(),
                     compiled.actions());
  }
  const uint64_t handle = next_handle_++;
  for (uint32_t m : installed.meters) {
    meter_refs_[m]++;
  }
  handle_of_[installed.flow] = handle;
  rules_[handle] = std::move(installed);
  return RuleHandle{handle};
}

absl::Status RteFlowDevice::DestroyRule(RuleHandle handle) {
  auto it = rules_.find(handle.value);
  if (it == rules_.end()) {
    return absl::NotFoundError(absl::StrCat("rule handle ", handle.value, " is not installed"));
  }
  rte_flow_error error{};
  const int rc = api_.Destroy(proxy_, it->second.flow, &error);
  if (rc != 0) {
    return FlowError("rte_flow_destroy", proxy_, rc, error);
  }
  for (uint32_t m : it->second.meters) {
    meter_refs_[m]--;
  }
  handle_of_.erase(it->second.flow);
  reported_aged_.erase(handle.value);
  rules_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RuleCounters>> RteFlowDevice::QueryCounters(
    absl::Span<const RuleHandle> handles) {
  std::vector<RuleCounters> out;
  out.reserve(handles.size());
  for (const RuleHandle& h : handles) {
    if (!rules_.contains(h.value)) {
      return absl::NotFoundError(absl::StrCat("rule handle ", h.value, " is not installed"));
    }
  }
  const rte_flow_action count[] = {{RTE_FLOW_ACTION_TYPE_COUNT, nullptr},
                                   {RTE_FLOW_ACTION_TYPE_END, nullptr}};
  for (const RuleHandle& h : handles) {
    const Installed& r = rules_.at(h.value);
    if (!r.counted) {
      out.push_back(RuleCounters{});
      continue;
    }
    rte_flow_query_count q{};
    rte_flow_error error{};
    const int rc = api_.Query(proxy_, r.flow, count, &q, &error);
    if (rc != 0) {
      return FlowError(absl::StrCat("rte_flow_query (rule handle ", h.value, ")"), proxy_, rc,
                       error);
    }
    out.push_back(RuleCounters{true, q.hits_set ? q.hits : 0, q.bytes_set ? q.bytes : 0});
  }
  return out;
}

absl::StatusOr<std::vector<RuleHandle>> RteFlowDevice::CollectAgedRules() {
  aged_event_ = false;
  rte_flow_error error{};
  const int n = api_.GetAgedFlows(proxy_, nullptr, 0, &error);
  if (n < 0) {
    return FlowError("rte_flow_get_aged_flows", proxy_, n, error);
  }
  std::vector<RuleHandle> out;
  if (n == 0) {
    return out;
  }
  std::vector<void*> contexts(static_cast<size_t>(n));
  const int got = api_.GetAgedFlows(proxy_, contexts.data(), static_cast<uint32_t>(n), &error);
  if (got < 0) {
    return FlowError("rte_flow_get_aged_flows", proxy_, got, error);
  }
  for (int i = 0; i < got && i < n; ++i) {
    auto it = handle_of_.find(static_cast<rte_flow*>(contexts[i]));
    if (it == handle_of_.end()) {
      continue;  // destroyed meanwhile
    }
    if (reported_aged_.insert(it->second).second) {
      out.push_back(RuleHandle{it->second});
    }
  }
  return out;
}

absl::Status RteFlowDevice::CreateMeter(uint32_t meter_id, const MeterProfile& profile) {
  if (meter_refs_.contains(meter_id)) {
    return absl::AlreadyExistsError(absl::StrCat("meter ", meter_id, " exists"));
  }
  RETURN_IF_ERROR(CheckMeterProfile(meter_id, profile));
  rte_mtr_error error{};
  if (!policy_created_) {
    // Green and yellow continue with the rule's other actions; red is dropped.
    static const rte_flow_action kPass[] = {{RTE_FLOW_ACTION_TYPE_END, nullptr}};
    static const rte_flow_action kDrop[] = {{RTE_FLOW_ACTION_TYPE_DROP, nullptr},
                                            {RTE_FLOW_ACTION_TYPE_END, nullptr}};
    rte_mtr_meter_policy_params policy{};
    policy.actions[RTE_COLOR_GREEN] = kPass;
    policy.actions[RTE_COLOR_YELLOW] = kPass;
    policy.actions[RTE_COLOR_RED] = kDrop;
    const int rc = api_.MeterPolicyAdd(proxy_, config_.meter_policy_id, &policy, &error);
    if (rc != 0) {
      return MtrError("rte_mtr_meter_policy_add", proxy_, config_.meter_policy_id, rc, error);
    }
    policy_created_ = true;
  }
  rte_mtr_meter_profile p{};
  p.alg = RTE_MTR_TRTCM_RFC2698;
  p.trtcm_rfc2698.cir = profile.cir_bytes_per_second;
  p.trtcm_rfc2698.pir = profile.pir_bytes_per_second;
  p.trtcm_rfc2698.cbs = profile.cbs_bytes;
  p.trtcm_rfc2698.pbs = profile.pbs_bytes;
  p.packet_mode = 0;
  int rc = api_.MeterProfileAdd(proxy_, meter_id, &p, &error);
  if (rc != 0) {
    return MtrError("rte_mtr_meter_profile_add", proxy_, meter_id, rc, error);
  }
  rte_mtr_params params{};
  params.meter_profile_id = meter_id;
  params.meter_policy_id = config_.meter_policy_id;
  params.meter_enable = 1;
  params.stats_mask = RTE_MTR_STATS_N_PKTS_GREEN | RTE_MTR_STATS_N_PKTS_YELLOW |
                      RTE_MTR_STATS_N_PKTS_RED | RTE_MTR_STATS_N_PKTS_DROPPED;
  params.default_input_color = RTE_COLOR_GREEN;
  rc = api_.MeterCreate(proxy_, meter_id, &params, /*shared=*/1, &error);
  if (rc != 0) {
    absl::Status status = MtrError("rte_mtr_create", proxy_, meter_id, rc, error);
    rte_mtr_error ignored{};
    api_.MeterProfileDelete(proxy_, meter_id, &ignored);
    return status;
  }
  meter_refs_[meter_id] = 0;
  return absl::OkStatus();
}

absl::Status RteFlowDevice::DestroyMeter(uint32_t meter_id) {
  auto it = meter_refs_.find(meter_id);
  if (it == meter_refs_.end()) {
    return absl::NotFoundError(absl::StrCat("meter ", meter_id, " does not exist"));
  }
  if (it->second != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("meter ", meter_id, " is used by ", it->second, " installed rule(s)"));
  }
  rte_mtr_error error{};
  int rc = api_.MeterDestroy(proxy_, meter_id, &error);
  if (rc != 0) {
    return MtrError("rte_mtr_destroy", proxy_, meter_id, rc, error);
  }
  meter_refs_.erase(it);
  rc = api_.MeterProfileDelete(proxy_, meter_id, &error);
  if (rc != 0) {
    return MtrError("rte_mtr_meter_profile_delete", proxy_, meter_id, rc, error);
  }
  return absl::OkStatus();
}

absl::StatusOr<MeterStats> RteFlowDevice::QueryMeter(uint32_t meter_id) {
  if (!meter_refs_.contains(meter_id)) {
    return absl::NotFoundError(absl::StrCat("meter ", meter_id, " does not exist"));
  }
  rte_mtr_stats stats{};
  uint64_t mask = 0;
  rte_mtr_error error{};
  const int rc = api_.MeterStatsRead(proxy_, meter_id, &stats, &mask, /*clear=*/0, &error);
  if (rc != 0) {
    return MtrError("rte_mtr_stats_read", proxy_, meter_id, rc, error);
  }
  // Red packets are dropped by the policy; PMDs count them as red, as dropped, or both.
  const uint64_t red = std::max(stats.n_pkts[RTE_COLOR_RED], stats.n_pkts_dropped);
  return MeterStats{stats.n_pkts[RTE_COLOR_GREEN], stats.n_pkts[RTE_COLOR_YELLOW], red};
}

absl::StatusOr<std::vector<PortInfo>> RteFlowDevice::ListPorts() { return config_.ports; }

}  // namespace nicswitch::device
