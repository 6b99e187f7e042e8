#include "soc_agent/api/policy_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace nicswitch::api {
namespace {

absl::StatusOr<std::string> ReadPem(absl::string_view option, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(option, ": cannot read \"", path, "\": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(option, ": \"", path, "\" is not PEM"));
  }
  return text.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PolicyServer>> PolicyServer::Start(
    const PolicyServerOptions& options) {
  if (options.unix_socket.empty() && options.tcp_address.empty()) {
    return absl::InvalidArgumentError("unix_socket: no listener (set unix_socket or tcp_address)");
  }
  std::shared_ptr<grpc::ServerCredentials> tcp_credentials;
  if (!options.tcp_address.empty()) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      if (!options.insecure_tcp) {
        return absl::InvalidArgumentError(
            "tls_cert_file: TCP needs TLS (tls_cert_file and tls_key_file), or insecure_tcp");
      }
      tcp_credentials = grpc::InsecureServerCredentials();
    } else {
      grpc::SslServerCredentialsOptions ssl;
      grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
      ASSIGN_OR_RETURN(pair.cert_chain, ReadPem("tls_cert_file", options.tls_cert_file));
      ASSIGN_OR_RETURN(pair.private_key, ReadPem("tls_key_file", options.tls_key_file));
      ssl.pem_key_cert_pairs.push_back(pair);
      if (!options.tls_client_ca_file.empty()) {
        ASSIGN_OR_RETURN(ssl.pem_root_certs,
                         ReadPem("tls_client_ca_file", options.tls_client_ca_file));
        ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
      }
      tcp_credentials = grpc::SslServerCredentials(ssl);
    }
  }

  std::unique_ptr<PolicyServer> server(new PolicyServer());
  server->options_ = options;
  ASSIGN_OR_RETURN(server->engine_, PolicyEngine::Open(options.engine));
  server->policy_service_ = std::make_unique<PolicyServiceImpl>(*server->engine_, server->flows_);
  server->flow_service_ = std::make_unique<FlowServiceImpl>(*server->engine_, server->flows_);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  if (!options.unix_socket.empty()) {
    // The socket's directory (e.g. /run/nicswitch) is created when missing.
    std::error_code error;
    std::filesystem::path parent = std::filesystem::path(options.unix_socket).parent_path();
    if (!parent.empty() && !std::filesystem::create_directories(parent, error) && error) {
      return absl::UnavailableError(
          absl::StrCat("unix_socket: cannot create \"", parent.string(), "\": ", error.message()));
    }
    if (unlink(options.unix_socket.c_str()) != 0 && errno != ENOENT) {
      return absl::UnavailableError(absl::StrCat("unix_socket: cannot remove stale \"",
                                                 options.unix_socket,
                                                 "\": ", std::strerror(errno)));
    }
    builder.AddListeningPort("unix:" + options.unix_socket, grpc::InsecureServerCredentials());
  }
  if (!options.tcp_address.empty()) {
    builder.AddListeningPort(options.tcp_address, tcp_credentials, &server->tcp_port_);
  }
  builder.RegisterService(server->policy_service_.get());
  builder.RegisterService(server->flow_service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.unix_socket.empty() ? "" : "unix:", options.unix_socket, " ",
        options.tcp_address));
  }
  if (!options.tcp_address.empty() && server->tcp_port_ == 0) {
    server->server_->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("tcp_address: cannot listen on \"", options.tcp_address, "\""));
  }
  if (!options.unix_socket.empty() &&
      chmod(options.unix_socket.c_str(), static_cast<mode_t>(options.unix_socket_mode)) != 0) {
    server->server_->Shutdown();
    return absl::UnavailableError(
        absl::StrCat("unix_socket: chmod \"", options.unix_socket, "\": ", std::strerror(errno)));
  }
  return server;
}

PolicyServer::~PolicyServer() { Shutdown(); }

void PolicyServer::Shutdown() {
  if (shut_down_ || server_ == nullptr) {
    return;
  }
  shut_down_ = true;
  engine_->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  if (!options_.unix_socket.empty()) {
    unlink(options_.unix_socket.c_str());
  }
}

}  // namespace nicswitch::api
