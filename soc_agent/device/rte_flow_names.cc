#include "soc_agent/device/rte_flow_names.h"

#include <rte_flow.h>

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace nicswitch::device {
namespace {

std::string Name(rte_flow_conv_op op, int type) {
  const char* name = nullptr;
  if (rte_flow_conv(op, &name, sizeof(name), reinterpret_cast<void*>(static_cast<uintptr_t>(type)),
                    nullptr) > 0 &&
      name != nullptr) {
    return absl::AsciiStrToUpper(name);
  }
  return absl::StrCat("type ", type);
}

}  // namespace

std::string RteFlowItemName(int type) { return Name(RTE_FLOW_CONV_OP_ITEM_NAME_PTR, type); }

std::string RteFlowActionName(int type) { return Name(RTE_FLOW_CONV_OP_ACTION_NAME_PTR, type); }

}  // namespace nicswitch::device
