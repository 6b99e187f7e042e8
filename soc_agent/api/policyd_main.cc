// nicswitch-policyd: the policy API served standalone (store + model + gRPC), without a
// datapath. nicswitch-agent embeds the same PolicyServer; this binary serves tests, the
// Python client test and trying the API out.

#include <signal.h>

#include <cstdio>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "soc_agent/api/api_config.h"
#include "soc_agent/api/policy_server.h"

int main(int argc, char** argv) {
  nicswitch::api::PolicyServerOptions options;
  std::string log_level = "info";
  std::string config_path;
  CLI::App app("nicswitch-policyd: the nicswitch policy API without a datapath");
  app.add_option("--config", config_path,
                 "nicswitch.v1.ApiConfig text file (instead of the options below)");
  app.add_option("--store", options.engine.store_path, "SQLite policy store file");
  app.add_option("--socket", options.unix_socket, "Unix socket path ('' for none)")
      ->capture_default_str();
  app.add_option("--tcp", options.tcp_address, "TCP address host:port (port 0: any)");
  app.add_option("--tls-cert", options.tls_cert_file, "server certificate (PEM)");
  app.add_option("--tls-key", options.tls_key_file, "server private key (PEM)");
  app.add_option("--tls-client-ca", options.tls_client_ca_file,
                 "CA of client certificates: enables mutual TLS");
  app.add_flag("--insecure-tcp", options.insecure_tcp, "allow TCP without TLS");
  app.add_option("--max-vfs", options.engine.limits.max_vfs, "VFs of this NIC")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!config_path.empty()) {
    nicswitch::v1::ApiConfig config;
    auto file = nicswitch::TextProtoFile::Load(config_path, &config);
    absl::StatusOr<nicswitch::api::PolicyServerOptions> from_config =
        file.ok() ? nicswitch::api::OptionsFromConfig(config, **file, "")
                  : absl::StatusOr<nicswitch::api::PolicyServerOptions>(file.status());
    if (!from_config.ok()) {
      std::cerr << "nicswitch-policyd: " << from_config.status().message() << "\n";
      return 2;
    }
    options = *from_config;
  } else if (options.engine.store_path.empty()) {
    std::cerr << "nicswitch-policyd: --store or --config is required\n";
    return 2;
  }
  if (absl::Status status = nicswitch::SetUpLogging("nicswitch-policyd", log_level); !status.ok()) {
    std::cerr << "nicswitch-policyd: " << status.message() << "\n";
    return 2;
  }

  // Handle SIGTERM/SIGINT synchronously in this thread; gRPC's threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = nicswitch::api::PolicyServer::Start(options);
  if (!server.ok()) {
    spdlog::error("{}", server.status().ToString());
    return 1;
  }
  spdlog::info("serving revision {} on {}{}{}", (*server)->engine().revision(),
               options.unix_socket.empty() ? "" : "unix:" + options.unix_socket,
               options.tcp_address.empty() ? "" : " tcp port ",
               options.tcp_address.empty() ? "" : std::to_string((*server)->tcp_port()));
  // Machine-readable line for scripts and tests.
  std::printf("ready tcp_port=%d\n", (*server)->tcp_port());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("signal {}: shutting down", signal_number);
  (*server)->Shutdown();
  return 0;
}
