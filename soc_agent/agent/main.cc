// nicswitch-agent: the SmartNIC SoC daemon (slow path, flow manager, policy API).
#include <csignal>
#include <cstdio>
#include <iostream>

#include "CLI/CLI.hpp"
#include "common/eal.h"
#include "common/logging.h"
#include "common/textproto.h"
#include "soc_agent/agent/agent.h"
#include "spdlog/spdlog.h"

namespace {

std::atomic<bool> stop_requested{false};

void OnSignal(int) { stop_requested.store(true); }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "nicswitch-agent: the SmartNIC virtual switch's SoC daemon. It takes the first packets of "
      "new flows from the NIC's embedded switch (or the embedded software switch, softasic), "
      "decides from the flow policy, installs exact rules and serves the gRPC policy API."};
  std::string config_path;
  std::string log_level;
  app.add_option("-c,--config", config_path,
                 "agent configuration (text-format nicswitch.v1.AgentConfig)")
      ->required();
  app.add_option("--log-level", log_level,
                 "overrides logging.level: trace, debug, info, warn, error, critical, off");
  bool check_only = false;
  app.add_flag("--check-config", check_only, "validate the configuration and exit");
  CLI11_PARSE(app, argc, argv);

  nicswitch::v1::AgentConfig config;
  auto file = nicswitch::TextProtoFile::Load(config_path, &config);
  if (!file.ok()) {
    std::fprintf(stderr, "nicswitch-agent: %s\n", std::string(file.status().message()).c_str());
    return 2;
  }
  auto api_options = nicswitch::agent::ValidateAgentConfig(config, **file);
  if (!api_options.ok()) {
    std::fprintf(stderr, "nicswitch-agent: %s\n",
                 std::string(api_options.status().message()).c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  if (!log_level.empty()) {
    config.mutable_logging()->set_level(log_level);
  }
  if (absl::Status status = nicswitch::SetUpLogging(
          "nicswitch-agent", config.logging().level().empty() ? "info" : config.logging().level());
      !status.ok()) {
    std::fprintf(stderr, "nicswitch-agent: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  const std::vector<std::string> eal_args(config.eal().args().begin(), config.eal().args().end());
  if (absl::Status status = nicswitch::InitEal("nicswitch-agent", eal_args); !status.ok()) {
    SPDLOG_CRITICAL("{}", std::string(status.message()));
    return 1;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  int rc = 0;
  {
    auto agent = nicswitch::agent::Agent::Create(config, *api_options);
    if (!agent.ok()) {
      SPDLOG_CRITICAL("start-up failed: {}", agent.status().ToString());
      rc = 1;
    } else {
      (*agent)->Run(stop_requested);
      SPDLOG_INFO("signal received: shutting down");
      (*agent)->Shutdown();
    }
  }
  nicswitch::CleanupEal();
  SPDLOG_INFO("nicswitch-agent stopped");
  return rc;
}
