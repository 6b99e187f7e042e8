#pragma once

// ApiConfig (proto/nicswitch/v1/api_config.proto) -> PolicyServerOptions, with errors that point
// at the config file's line: `agent.textproto:7:3: api.tcp_address: TCP needs tls ...`.

#include <string>

#include "absl/status/statusor.h"
#include "common/textproto.h"
#include "nicswitch/v1/api_config.pb.h"
#include "soc_agent/api/policy_server.h"

namespace nicswitch::api {

// `file` locates fields for messages; `prefix` is the ApiConfig's path inside it ("api." in the
// agent's config, "" when the file is an ApiConfig).
absl::StatusOr<PolicyServerOptions> OptionsFromConfig(const v1::ApiConfig& config,
                                                      const TextProtoFile& file,
                                                      const std::string& prefix);

}  // namespace nicswitch::api
