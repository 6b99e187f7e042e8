#include "common/textproto.h"

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"
#include "nicswitch/v1/common.pb.h"
#include "tests/support/test_env.h"

namespace nicswitch {
namespace {

using ::testing::HasSubstr;

TEST(TextProtoFileTest, LoadsAFileAndLocatesNestedRepeatedFields) {
  const std::string path = testenv::TestTempDir("textproto") + "/bad_request.textproto";
  std::ofstream(path) << "# a comment\n"
                         "field_violations { field: \"a\" description: \"first\" }\n"
                         "field_violations {\n"
                         "  field: \"b\"\n"
                         "  description: \"second\"\n"
                         "}\n";
  google::rpc::BadRequest message;
  auto file = TextProtoFile::Load(path, &message);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(message.field_violations_size(), 2);
  EXPECT_EQ(message.field_violations(1).description(), "second");
  EXPECT_EQ((*file)->Where("field_violations[1].description"), path + ":5:3");
  EXPECT_EQ((*file)->Where("field_violations[0]"), path + ":2:1");
  // Fields that are not in the file, or not in the schema, fall back to the file name.
  EXPECT_EQ((*file)->Where("field_violations[7].field"), path);
  EXPECT_EQ((*file)->Where("no_such_field"), path);
  const absl::Status error =
      (*file)->FieldError("field_violations[1].field", "\"b\" is not a field name");
  EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(error.message(), path + ":4:3: field_violations[1].field: \"b\" is not a field name");
}

TEST(TextProtoFileTest, SyntaxErrorNamesFileLineAndField) {
  nicswitch::v1::LoggingConfig message;
  auto file =
      TextProtoFile::Parse("agent.textproto", "\n\nlevel: \"info\"\nlevle: \"debug\"\n", &message);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("agent.textproto:4:"));
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("levle"));
}

TEST(TextProtoFileTest, WrongTypeIsAnError) {
  nicswitch::v1::EalConfig message;
  auto file = TextProtoFile::Parse("relay.textproto", "args: 12\n", &message);
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("relay.textproto:1:"));
}

TEST(TextProtoFileTest, MissingFileIsNotFound) {
  nicswitch::v1::EalConfig message;
  auto file = TextProtoFile::Load("/nonexistent/agent.textproto", &message);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("/nonexistent/agent.textproto"));
}

}  // namespace
}  // namespace nicswitch
