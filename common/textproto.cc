#include "common/textproto.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"

namespace nicswitch {
namespace {

class CollectFirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (first_.empty()) {
      // The parser counts from 0; editors count from 1.
      first_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
    }
  }
  void AddWarning(int, google::protobuf::io::ColumnNumber, const std::string&) override {}
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TextProtoFile>> TextProtoFile::Load(
    const std::string& path, google::protobuf::Message* message) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    const std::string why = absl::StrCat("cannot read config file \"", path, "\": ", strerror(err));
    return err == EACCES ? absl::PermissionDeniedError(why) : absl::NotFoundError(why);
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(path, text.str(), message);
}

absl::StatusOr<std::unique_ptr<TextProtoFile>> TextProtoFile::Parse(
    const std::string& path, absl::string_view text, google::protobuf::Message* message) {
  std::unique_ptr<TextProtoFile> file(new TextProtoFile(path, message));
  google::protobuf::TextFormat::Parser parser;
  CollectFirstError errors;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&file->tree_);
  if (!parser.ParseFromString(std::string(text), message)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", errors.first()));
  }
  return file;
}

std::string TextProtoFile::Where(absl::string_view field_path) const {
  const google::protobuf::TextFormat::ParseInfoTree* tree = &tree_;
  const google::protobuf::Descriptor* type = message_->GetDescriptor();
  google::protobuf::TextFormat::ParseLocation location;
  const std::vector<absl::string_view> parts = absl::StrSplit(field_path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::string_view name = parts[i];
    int index = -1;
    if (const size_t open = name.find('['); open != absl::string_view::npos) {
      if (!absl::SimpleAtoi(name.substr(open + 1, name.size() - open - 2), &index)) {
        return path_;
      }
      name = name.substr(0, open);
    }
    const google::protobuf::FieldDescriptor* field =
        type == nullptr ? nullptr : type->FindFieldByName(std::string(name));
    if (field == nullptr || tree == nullptr) {
      return path_;
    }
    location = tree->GetLocation(field, index);
    if (i + 1 < parts.size()) {
      tree = tree->GetTreeForNested(field, index);
      type = field->message_type();
    }
  }
  if (location.line < 0) {
    return path_;
  }
  return absl::StrCat(path_, ":", location.line + 1, ":", location.column + 1);
}

absl::Status TextProtoFile::FieldError(absl::string_view field_path,
                                       absl::string_view problem) const {
  return absl::InvalidArgumentError(
      absl::StrCat(Where(field_path), ": ", field_path, ": ", problem));
}

}  // namespace nicswitch
