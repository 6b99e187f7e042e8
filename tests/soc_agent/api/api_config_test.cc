#include "soc_agent/api/api_config.h"

#include <gtest/gtest.h>

namespace nicswitch::api {
namespace {

absl::StatusOr<PolicyServerOptions> FromText(const std::string& text) {
  static v1::ApiConfig config;
  config.Clear();
  auto file = TextProtoFile::Parse("api.textproto", text, &config);
  if (!file.ok()) {
    return file.status();
  }
  return OptionsFromConfig(config, **file, "");
}

TEST(ApiConfigTest, DefaultsAndTls) {
  auto options = FromText(R"(store_path: "/var/lib/nicswitch/policy.db")");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->unix_socket, "/run/nicswitch/api.sock");
  EXPECT_EQ(options->unix_socket_mode, 0660u);
  EXPECT_TRUE(options->engine.durable);
  EXPECT_EQ(options->engine.limits.max_vfs, 256u);
  options = FromText(R"(store_path: "p.db" unix_socket: "none" tcp_address: "0.0.0.0:50051"
                        tls { cert_file: "s.pem" key_file: "s.key" client_ca_file: "ca.pem" }
                        max_vfs: 64)");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_TRUE(options->unix_socket.empty());
  EXPECT_EQ(options->tls_client_ca_file, "ca.pem");
  EXPECT_EQ(options->engine.limits.max_vfs, 64u);
}

TEST(ApiConfigTest, ErrorsPointAtTheLine) {
  auto options = FromText("store_path: \"p.db\"\ntcp_address: \"0.0.0.0:1\"\n");
  ASSERT_FALSE(options.ok());
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(options.status().message().find("tls"), std::string::npos)
      << options.status().message();
  options = FromText("unix_socket: \"/x\"\n");
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find("store_path"), std::string::npos);
  options = FromText("store_path: \"p\"\nunix_socket_mode: 4095\n");
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.status().message().find("api.textproto:2:"), std::string::npos)
      << options.status().message();
}

}  // namespace
}  // namespace nicswitch::api
