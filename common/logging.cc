#include "common/logging.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace nicswitch {

absl::Status SetUpLogging(absl::string_view program_name, absl::string_view level) {
  const std::string level_name(level);
  const spdlog::level::level_enum parsed = spdlog::level::from_str(level_name);
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level_name != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("log level \"", level_name,
                     "\" is not one of trace, debug, info, warn, error, critical, off"));
  }
  auto logger = spdlog::stderr_color_mt(std::string(program_name));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

}  // namespace nicswitch
