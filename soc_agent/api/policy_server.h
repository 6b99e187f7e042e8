#pragma once

// The policy API as one embeddable object: the PolicyEngine (model + SQLite store), the gRPC
// services PolicyService and FlowService, the standard health service and server reflection,
// listening on a Unix socket (default, mode 0660) and/or TCP with TLS (mutual TLS when a client
// CA is given). nicswitch-agent owns one; nicswitch-policyd runs one standalone.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "soc_agent/api/flow_table_view.h"
#include "soc_agent/api/policy_engine.h"
#include "soc_agent/api/policy_service.h"

namespace grpc {
class Server;
}

namespace nicswitch::api {

struct PolicyServerOptions {
  PolicyEngine::Options engine;
  // Unix socket path; empty: none. A stale socket file at this path is replaced; a missing
  // directory is created.
  std::string unix_socket = "/run/nicswitch/api.sock";
  uint32_t unix_socket_mode = 0660;
  // "host:port" for TCP; empty: none. Port 0 picks a free port (see PolicyServer::tcp_port).
  std::string tcp_address;
  // TLS for TCP (PEM files). TCP without TLS is refused unless insecure_tcp is set.
  std::string tls_cert_file;
  std::string tls_key_file;
  // With a client CA, clients must present a certificate it signed (mutual TLS).
  std::string tls_client_ca_file;
  bool insecure_tcp = false;
};

class PolicyServer {
 public:
  // Opens the store, restores the policy and starts serving. INVALID_ARGUMENT naming the option
  // for a bad combination (no listener, TCP without TLS, unreadable PEM); UNAVAILABLE when a
  // listener cannot bind.
  static absl::StatusOr<std::unique_ptr<PolicyServer>> Start(const PolicyServerOptions& options);
  ~PolicyServer();  // Shutdown()

  PolicyEngine& engine() { return *engine_; }
  // The flow manager's view, for FlowService and GetStatus; nullptr detaches. The view must
  // outlive the server or be detached first.
  void AttachFlowTable(FlowTableView* flows) { flows_.Set(flows); }
  int tcp_port() const { return tcp_port_; }
  const std::string& unix_socket() const { return options_.unix_socket; }

  // Ends Watch streams, stops accepting RPCs, waits (bounded) for running ones, removes the
  // Unix socket. Idempotent.
  void Shutdown();

 private:
  PolicyServer() = default;

  PolicyServerOptions options_;
  std::unique_ptr<PolicyEngine> engine_;
  FlowTableSlot flows_;
  std::unique_ptr<PolicyServiceImpl> policy_service_;
  std::unique_ptr<FlowServiceImpl> flow_service_;
  std::unique_ptr<grpc::Server> server_;
  int tcp_port_ = 0;
  bool shut_down_ = false;
};

}  // namespace nicswitch::api
