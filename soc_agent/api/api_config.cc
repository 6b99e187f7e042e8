#include "soc_agent/api/api_config.h"

#include "absl/strings/str_cat.h"

namespace nicswitch::api {

absl::StatusOr<PolicyServerOptions> OptionsFromConfig(const v1::ApiConfig& config,
                                                      const TextProtoFile& file,
                                                      const std::string& prefix) {
  PolicyServerOptions options;
  if (config.store_path().empty()) {
    return file.FieldError(prefix + "store_path", "is required (the SQLite policy store)");
  }
  options.engine.store_path = config.store_path();
  options.engine.durable = !config.relaxed_durability();
  if (config.max_vfs() != 0) {
    options.engine.limits.max_vfs = config.max_vfs();
  }
  if (config.unix_socket() == "none") {
    options.unix_socket.clear();
  } else if (!config.unix_socket().empty()) {
    if (config.unix_socket().size() > 107) {
      return file.FieldError(prefix + "unix_socket",
                             absl::StrCat("\"", config.unix_socket(),
                                          "\" is longer than a Unix socket path can be (107)"));
    }
    options.unix_socket = config.unix_socket();
  }
  if (config.unix_socket_mode() != 0) {
    if (config.unix_socket_mode() > 0777) {
      return file.FieldError(prefix + "unix_socket_mode",
                             absl::StrCat(config.unix_socket_mode(), " is not a file mode"));
    }
    options.unix_socket_mode = config.unix_socket_mode();
  }
  options.tcp_address = config.tcp_address();
  options.insecure_tcp = config.insecure_tcp();
  options.tls_cert_file = config.tls().cert_file();
  options.tls_key_file = config.tls().key_file();
  options.tls_client_ca_file = config.tls().client_ca_file();
  if (!options.tcp_address.empty() && !options.insecure_tcp &&
      (options.tls_cert_file.empty() || options.tls_key_file.empty())) {
    return file.FieldError(prefix + "tls",
                           "TCP needs tls.cert_file and tls.key_file (or insecure_tcp: true)");
  }
  if (!options.tls_client_ca_file.empty() && options.tls_cert_file.empty()) {
    return file.FieldError(prefix + "tls.client_ca_file",
                           "mutual TLS needs the server's own tls.cert_file and tls.key_file");
  }
  if (options.unix_socket.empty() && options.tcp_address.empty()) {
    return file.FieldError(prefix + "unix_socket", "\"none\" and no tcp_address: no listener");
  }
  return options;
}

}  // namespace nicswitch::api
