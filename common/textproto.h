#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace nicswitch {

// A text-format protobuf file loaded into a message, remembering where each field was written so
// that semantic validation can point at the line: `agent.textproto:12:5: ports[1].devargs: ...`.
class TextProtoFile {
 public:
  // Parses `path` into `message` (which must outlive this object). Syntax errors and unknown
  // fields come back as INVALID_ARGUMENT "<path>:<line>:<column>: <parser message>"; a missing
  // or unreadable file as NOT_FOUND / PERMISSION_DENIED naming the path.
  static absl::StatusOr<std::unique_ptr<TextProtoFile>> Load(const std::string& path,
                                                             google::protobuf::Message* message);

  // Same, from text already in memory; `path` is only used in messages.
  static absl::StatusOr<std::unique_ptr<TextProtoFile>> Parse(const std::string& path,
                                                              absl::string_view text,
                                                              google::protobuf::Message* message);

  // "<path>:<line>:<column>" of the field named by `field_path` ("ports[1].devargs",
  // "underlay.vtep_ip"), or "<path>" when the field was not written in the file.
  std::string Where(absl::string_view field_path) const;

  // INVALID_ARGUMENT "<Where(field_path)>: <field_path>: <problem>".
  absl::Status FieldError(absl::string_view field_path, absl::string_view problem) const;

  const std::string& path() const { return path_; }

 private:
  TextProtoFile(std::string path, const google::protobuf::Message* message)
      : path_(std::move(path)), message_(message) {}

  std::string path_;
  const google::protobuf::Message* message_;
  google::protobuf::TextFormat::ParseInfoTree tree_;
};

}  // namespace nicswitch
