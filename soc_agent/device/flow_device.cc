#include "soc_agent/device/flow_device.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nicswitch::device {
namespace {

constexpr char kErrnoPayload[] = "type.nicswitch.dev/device.errno";
constexpr char kReasonPayload[] = "type.nicswitch.dev/device.reason";

}  // namespace

void AttachRefusal(absl::Status& status, int error_number, absl::string_view reason) {
  if (status.ok()) {
    return;
  }
  status.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(error_number)));
  status.SetPayload(kReasonPayload, absl::Cord(reason));
}

DeviceRefusal RefusalOf(const absl::Status& status) {
  DeviceRefusal refusal;
  refusal.reason = std::string(status.message());
  if (absl::optional<absl::Cord> err = status.GetPayload(kErrnoPayload)) {
    int value = 0;
    if (absl::SimpleAtoi(std::string(*err), &value)) {
      refusal.error_number = value;
    }
  }
  if (absl::optional<absl::Cord> reason = status.GetPayload(kReasonPayload)) {
    refusal.reason = std::string(*reason);
  }
  return refusal;
}

std::string ErrnoName(int error_number) {
  if (error_number == 0) {
    return "";
  }
  if (error_number == ENOTSUP) {
    return "ENOTSUP";  // == EOPNOTSUPP on Linux; DPDK's drivers say ENOTSUP
  }
  const char* name = strerrorname_np(error_number);
  return name != nullptr ? std::string(name) : absl::StrCat("errno ", error_number);
}

absl::Status CheckMeterProfile(uint32_t meter_id, const MeterProfile& profile) {
  if (profile.cir_bytes_per_second == 0 || profile.cbs_bytes == 0 || profile.pbs_bytes == 0 ||
      profile.pir_bytes_per_second < profile.cir_bytes_per_second) {
    return absl::InvalidArgumentError(
        absl::StrCat("meter ", meter_id, ": need cir > 0, cbs > 0, pbs > 0 and pir >= cir (cir ",
                     profile.cir_bytes_per_second, ", pir ", profile.pir_bytes_per_second, ")"));
  }
  return absl::OkStatus();
}

}  // namespace nicswitch::device
