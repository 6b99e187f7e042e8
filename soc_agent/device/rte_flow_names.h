#pragma once

// Names of rte_flow item and action types for error messages ("IPV4", "VXLAN_ENCAP"), from
// DPDK's own tables (rte_flow_conv), so every type a PMD may blame has its name.

#include <string>

namespace nicswitch::device {

std::string RteFlowItemName(int type);  // "type 1234" for a type DPDK does not know
std::string RteFlowActionName(int type);

}  // namespace nicswitch::device
