// The relay's configuration surface: the example config parses against the schema, and
// `nicswitch-relay --help` documents every option the schema has.
#include <cstdio>
#include <string>

#include "common/textproto.h"
#include "gtest/gtest.h"
#include "nicswitch/v1/relay_config.pb.h"

namespace nicswitch::relay {
namespace {

std::string RunHelp() {
  std::string out;
  FILE* p = popen(RELAY_BIN " --help", "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
  }
  pclose(p);
  return out;
}

TEST(RelayConfigTest, ExampleConfigParses) {
  v1::RelayConfig config;
  auto file = TextProtoFile::Load(TESTDATA_DIR "/relay.textproto", &config);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(config.socket(), "/run/nicswitch/vm7.vhost.sock");
  EXPECT_TRUE(config.client());
  EXPECT_EQ(config.queue_pairs(), 2u);
  EXPECT_TRUE(config.has_rx_zero_copy());
  EXPECT_EQ(config.eal().args_size(), 8);
}

TEST(RelayConfigTest, UnknownFieldIsRefusedWithItsLine) {
  v1::RelayConfig config;
  auto file = TextProtoFile::Parse("relay.textproto", "socket: \"/x\"\nzero_copy: true\n", &config);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find("relay.textproto:2"), std::string::npos) << file.status();
}

TEST(RelayConfigTest, HelpDocumentsEveryConfigField) {
  const std::string help = RunHelp();
  const auto* desc = v1::RelayConfig::descriptor();
  for (int i = 0; i < desc->field_count(); ++i) {
    std::string flag = desc->field(i)->name();
    if (flag == "eal") {
      continue;  // EAL arguments go after --
    }
    if (flag == "logging") {
      flag = "log_level";
    }
    for (char& c : flag) {
      if (c == '_') {
        c = '-';
      }
    }
    EXPECT_NE(help.find("--" + flag), std::string::npos) << "--" << flag << " missing:\n" << help;
  }
}

}  // namespace
}  // namespace nicswitch::relay
