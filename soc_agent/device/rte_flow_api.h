#pragma once

// RteFlowApi: the rte_flow / rte_mtr / ethdev-event C calls the rte_flow backend makes, behind
// an interface so that RteFlowDevice is tested with gmock (no SmartNIC here). Each method is the
// C function of the same name, one to one: same arguments, return 0 or a negative errno (for
// rte_flow_create: *flow set on success), fill the error struct on failure. DpdkRteFlowApi
// makes the real calls.
//
// DPDK types are forward-declared; implementations and tests include <rte_flow.h>/<rte_mtr.h>.

#include <cstdint>
#include <functional>
#include <memory>

struct rte_flow;
struct rte_flow_attr;
struct rte_flow_item;
struct rte_flow_action;
struct rte_flow_error;
struct rte_mtr_error;
struct rte_mtr_meter_profile;
struct rte_mtr_meter_policy_params;
struct rte_mtr_params;
struct rte_mtr_stats;

namespace nicswitch::device {

class RteFlowApi {
 public:
  virtual ~RteFlowApi() = default;

  // rte_flow_pick_transfer_proxy.
  virtual int PickTransferProxy(uint16_t port_id, uint16_t* proxy_port_id,
                                rte_flow_error* error) = 0;
  // rte_flow_create; returns 0 and sets *flow, or -rte_errno.
  virtual int Create(uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item* pattern,
                     const rte_flow_action* actions, rte_flow** flow, rte_flow_error* error) = 0;
  // rte_flow_validate: the checks of rte_flow_create without creating anything; 0 when the
  // PMD would accept the rule (the capability probe's call).
  virtual int Validate(uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item* pattern,
                       const rte_flow_action* actions, rte_flow_error* error) = 0;
  // rte_flow_destroy.
  virtual int Destroy(uint16_t port_id, rte_flow* flow, rte_flow_error* error) = 0;
  // rte_flow_query (`data` is e.g. a struct rte_flow_query_count).
  virtual int Query(uint16_t port_id, rte_flow* flow, const rte_flow_action* action, void* data,
                    rte_flow_error* error) = 0;
  // rte_flow_get_aged_flows: with nb_contexts 0 returns how many flows aged; otherwise fills
  // up to nb_contexts contexts and returns how many. Negative errno on failure.
  virtual int GetAgedFlows(uint16_t port_id, void** contexts, uint32_t nb_contexts,
                           rte_flow_error* error) = 0;
  // rte_eth_dev_callback_register(port_id, RTE_ETH_EVENT_FLOW_AGED, ...): `on_aged` runs on
  // DPDK's interrupt thread when the PMD signals newly aged flows. One registration per port.
  virtual int RegisterAgedEvent(uint16_t port_id, std::function<void()> on_aged) = 0;
  virtual int UnregisterAgedEvent(uint16_t port_id) = 0;

  // rte_mtr_meter_profile_add / _delete.
  virtual int MeterProfileAdd(uint16_t port_id, uint32_t profile_id, rte_mtr_meter_profile* profile,
                              rte_mtr_error* error) = 0;
  virtual int MeterProfileDelete(uint16_t port_id, uint32_t profile_id, rte_mtr_error* error) = 0;
  // rte_mtr_meter_policy_add / _delete.
  virtual int MeterPolicyAdd(uint16_t port_id, uint32_t policy_id,
                             rte_mtr_meter_policy_params* policy, rte_mtr_error* error) = 0;
  virtual int MeterPolicyDelete(uint16_t port_id, uint32_t policy_id, rte_mtr_error* error) = 0;
  // rte_mtr_create / rte_mtr_destroy.
  virtual int MeterCreate(uint16_t port_id, uint32_t mtr_id, rte_mtr_params* params, int shared,
                          rte_mtr_error* error) = 0;
  virtual int MeterDestroy(uint16_t port_id, uint32_t mtr_id, rte_mtr_error* error) = 0;
  // rte_mtr_stats_read (clear = 0: cumulative).
  virtual int MeterStatsRead(uint16_t port_id, uint32_t mtr_id, rte_mtr_stats* stats,
                             uint64_t* stats_mask, int clear, rte_mtr_error* error) = 0;
};

// The real thing. Needs EAL.
std::unique_ptr<RteFlowApi> MakeDpdkRteFlowApi();

}  // namespace nicswitch::device
