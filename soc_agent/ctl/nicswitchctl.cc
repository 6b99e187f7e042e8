// nicswitchctl: the command line of the nicswitch policy API.
//
//   nicswitchctl [--server ADDR] [-o table|json] vpc|vnic|sg|mapping|route add|set|del|list|show
//   nicswitchctl underlay set|show|del, flows list|flush, status, watch, apply -f FILE
//
// Exit codes: 0 success; 1 other error; 2 usage; 3 INVALID_ARGUMENT; 4 NOT_FOUND;
// 5 ALREADY_EXISTS; 6 FAILED_PRECONDITION; 7 ABORTED; 8 RESOURCE_EXHAUSTED; 9 the server cannot
// be reached (UNAVAILABLE, DEADLINE_EXCEEDED).

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/textproto.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "nicswitch/v1/flows.grpc.pb.h"
#include "nicswitch/v1/policy.grpc.pb.h"
#include "soc_agent/policy/policy_model.h"

namespace nicswitch::ctl {
namespace {

namespace v1 = ::nicswitch::v1;

struct Globals {
  std::string server = "unix:/run/nicswitch/api.sock";
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string output = "table";
  double timeout_seconds = 10;
};

int ExitCode(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 0;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 3;
    case grpc::StatusCode::NOT_FOUND:
      return 4;
    case grpc::StatusCode::ALREADY_EXISTS:
      return 5;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 6;
    case grpc::StatusCode::ABORTED:
      return 7;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 8;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 9;
    default:
      return 1;
  }
}

const char* CodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "?";
}

std::string FieldOf(const google::rpc::Status& status) {
  for (const auto& any : status.details()) {
    google::rpc::BadRequest bad_request;
    if (any.UnpackTo(&bad_request) && bad_request.field_violations_size() > 0) {
      return bad_request.field_violations(0).field();
    }
  }
  return "";
}

// Maps a field of update i ("updates[i].entity.vnic.mac") to a place in an applied file.
using FieldLocator = std::function<std::string(int update, const std::string& field)>;

// Prints a failed RPC: the top-level error, then each failed update with its field.
int Fail(const grpc::Status& status, const FieldLocator& locate = nullptr) {
  google::rpc::Status top;
  std::vector<google::rpc::Status> per_update;
  if (top.ParseFromString(status.error_details())) {
    for (const auto& any : top.details()) {
      google::rpc::Status update;
      if (any.UnpackTo(&update)) {
        per_update.push_back(update);
      }
    }
  }
  std::string field = FieldOf(top);
  if (per_update.size() == 1 && field.empty()) {
    field = FieldOf(per_update[0]);
  }
  std::cerr << "nicswitchctl: " << CodeName(status.error_code()) << ": " << status.error_message();
  if (!field.empty()) {
    std::cerr << " [field " << field;
    if (locate && per_update.size() == 1) {
      std::string where = locate(0, field);
      if (!where.empty()) {
        std::cerr << " at " << where;
      }
    }
    std::cerr << "]";
  }
  std::cerr << "\n";
  int exit_code = ExitCode(status.error_code());
  if (per_update.size() > 1) {
    bool first = true;
    for (size_t i = 0; i < per_update.size(); ++i) {
      const google::rpc::Status& u = per_update[i];
      if (u.code() == 0 || u.code() == grpc::StatusCode::ABORTED) {
        continue;
      }
      if (first) {
        // A batch fails as UNKNOWN: exit with the first failed update's code.
        exit_code = ExitCode(static_cast<grpc::StatusCode>(u.code()));
        first = false;
      }
      std::string f = FieldOf(u);
      std::cerr << "  updates[" << i << "]: " << CodeName(u.code()) << ": " << u.message();
      if (!f.empty()) {
        std::cerr << " [field " << f;
        if (locate) {
          std::string where = locate(static_cast<int>(i), f);
          if (!where.empty()) {
            std::cerr << " at " << where;
          }
        }
        std::cerr << "]";
      }
      std::cerr << "\n";
    }
  }
  return exit_code;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// ----- output ---------------------------------------------------------------------------------

class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print() const {
    std::vector<size_t> widths;
    for (const auto& row : rows_) {
      widths.resize(std::max(widths.size(), row.size()));
      for (size_t i = 0; i < row.size(); ++i) {
        widths[i] = std::max(widths[i], row[i].size());
      }
    }
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) {
          line += std::string(widths[i] - row[i].size() + 2, ' ');
        }
      }
      std::cout << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string RuleText(const v1::SecurityGroupRule& r) {
  std::string ports = r.port_min() == 0 && r.port_max() == 0
                          ? "any"
                          : absl::StrCat(r.port_min(), "-", r.port_max());
  std::string dir = v1::SecurityGroupRule::Direction_Name(r.direction());
  std::string proto = v1::SecurityGroupRule::Protocol_Name(r.protocol());
  std::string action = v1::SecurityGroupRule::Action_Name(r.action());
  absl::AsciiStrToLower(&dir);
  absl::AsciiStrToLower(&proto);
  absl::AsciiStrToLower(&action);
  return absl::StrCat(dir, ",", proto, ",", ports, ",",
                      r.remote_cidr().empty() ? "any" : r.remote_cidr(), ",", action);
}

void PrintEntities(v1::EntityKind kind, const std::vector<v1::Entity>& entities) {
  switch (kind) {
    case v1::VPC: {
      Table t({"NAME", "VNI", "CIDRS"});
      for (const auto& e : entities) {
        t.Add({e.vpc().name(), absl::StrCat(e.vpc().vni()), absl::StrJoin(e.vpc().cidrs(), ",")});
      }
      t.Print();
      break;
    }
    case v1::VNIC: {
      Table t({"NAME", "VPC", "VF", "MAC", "IPV4", "IPV6", "SECURITY_GROUPS", "QOS"});
      for (const auto& e : entities) {
        const v1::Vnic& v = e.vnic();
        t.Add({v.name(), v.vpc(), absl::StrCat(v.vf_index()), v.mac(), v.ipv4(),
               v.ipv6().empty() ? "-" : v.ipv6(),
               v.security_groups().empty() ? "-" : absl::StrJoin(v.security_groups(), ","),
               v.qos().rate_bps() == 0
                   ? "-"
                   : absl::StrCat(v.qos().rate_bps(), "bps/", v.qos().burst_bytes(), "B")});
      }
      t.Print();
      break;
    }
    case v1::MAPPING: {
      Table t({"NAME", "VPC", "OVERLAY_IP", "REMOTE_VTEP", "REMOTE_MAC"});
      for (const auto& e : entities) {
        const v1::Mapping& m = e.mapping();
        t.Add({m.name(), m.vpc(), m.overlay_ip(), m.remote_vtep_ip(), m.remote_mac()});
      }
      t.Print();
      break;
    }
    case v1::ROUTE: {
      Table t({"NAME", "VPC", "PREFIX", "NEXT_HOP"});
      for (const auto& e : entities) {
        t.Add({e.route().name(), e.route().vpc(), e.route().prefix(), e.route().next_hop()});
      }
      t.Print();
      break;
    }
    case v1::SECURITY_GROUP: {
      Table t({"NAME", "RULE", "DIRECTION,PROTOCOL,PORTS,REMOTE,ACTION"});
      for (const auto& e : entities) {
        const v1::SecurityGroup& sg = e.security_group();
        if (sg.rules().empty()) {
          t.Add({sg.name(), "-", "(no rules)"});
        }
        for (int i = 0; i < sg.rules_size(); ++i) {
          t.Add({i == 0 ? sg.name() : "", absl::StrCat(i), RuleText(sg.rules(i))});
        }
      }
      t.Print();
      break;
    }
    case v1::UNDERLAY: {
      Table t({"NAME", "VTEP_IP", "UPLINK_MAC", "NEXT_HOP_MAC", "VXLAN_PORT", "MTU"});
      for (const auto& e : entities) {
        const v1::Underlay& u = e.underlay();
        t.Add({u.name(), u.vtep_ip(), u.uplink_mac(), u.next_hop_mac(),
               absl::StrCat(u.vxlan_port() == 0 ? 4789 : u.vxlan_port()),
               absl::StrCat(u.mtu() == 0 ? 1500 : u.mtu())});
      }
      t.Print();
      break;
    }
    default:
      break;
  }
}

// ----- the client -----------------------------------------------------------------------------

class Client {
 public:
  explicit Client(const Globals& globals) : globals_(globals) {}

  absl::Status Connect() {
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (!globals_.tls_ca.empty()) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ReadFile(globals_.tls_ca);
      if (!globals_.tls_cert.empty()) {
        ssl.pem_cert_chain = ReadFile(globals_.tls_cert);
        ssl.pem_private_key = ReadFile(globals_.tls_key);
      }
      credentials = grpc::SslCredentials(ssl);
    } else {
      credentials = grpc::InsecureChannelCredentials();
    }
    channel_ = grpc::CreateChannel(globals_.server, credentials);
    policy_ = v1::PolicyService::NewStub(channel_);
    flows_ = v1::FlowService::NewStub(channel_);
    return absl::OkStatus();
  }

  void Prepare(grpc::ClientContext* context, bool deadline = true) const {
    if (deadline) {
      context->set_deadline(
          std::chrono::system_clock::now() +
          std::chrono::milliseconds(static_cast<int64_t>(globals_.timeout_seconds * 1000)));
    }
  }

  grpc::Status Write(const v1::WriteRequest& request, uint64_t* revision) {
    grpc::ClientContext context;
    Prepare(&context);
    v1::WriteResponse response;
    grpc::Status status = policy_->Write(&context, request, &response);
    *revision = response.revision();
    return status;
  }

  // Every entity of `kind` (every kind when unspecified), following pages.
  grpc::Status ReadAll(v1::EntityKind kind, const std::string& vpc,
                       std::vector<v1::Entity>* entities, uint64_t* revision) {
    std::string token;
    do {
      v1::ReadRequest request;
      request.set_kind(kind);
      request.set_vpc(vpc);
      request.set_page_size(1000);
      request.set_page_token(token);
      grpc::ClientContext context;
      Prepare(&context);
      v1::ReadResponse response;
      grpc::Status status = policy_->Read(&context, request, &response);
      if (!status.ok()) {
        return status;
      }
      entities->insert(entities->end(), response.entities().begin(), response.entities().end());
      token = response.next_page_token();
      *revision = response.revision();
    } while (!token.empty());
    return grpc::Status::OK;
  }

  grpc::Status ReadOne(v1::EntityKind kind, const std::string& name, v1::Entity* entity) {
    v1::ReadRequest request;
    request.set_kind(kind);
    request.set_name(name);
    grpc::ClientContext context;
    Prepare(&context);
    v1::ReadResponse response;
    grpc::Status status = policy_->Read(&context, request, &response);
    if (status.ok() && response.entities_size() == 1) {
      *entity = response.entities(0);
    }
    return status;
  }

  v1::PolicyService::Stub& policy() { return *policy_; }
  v1::FlowService::Stub& flows() { return *flows_; }

 private:
  const Globals& globals_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PolicyService::Stub> policy_;
  std::unique_ptr<v1::FlowService::Stub> flows_;
};

int WriteOne(Client& client, const Globals& g, v1::Update::Type type, const v1::Entity& entity) {
  v1::WriteRequest request;
  v1::Update* update = request.add_updates();
  update->set_type(type);
  *update->mutable_entity() = entity;
  uint64_t revision = 0;
  grpc::Status status = client.Write(request, &revision);
  if (!status.ok()) {
    return Fail(status);
  }
  if (g.output == "json") {
    v1::WriteResponse response;
    response.set_revision(revision);
    std::cout << Json(response) << "\n";
  } else {
    std::cout << "revision " << revision << "\n";
  }
  return 0;
}

int List(Client& client, const Globals& g, v1::EntityKind kind, const std::string& vpc) {
  std::vector<v1::Entity> entities;
  uint64_t revision = 0;
  grpc::Status status = client.ReadAll(kind, vpc, &entities, &revision);
  if (!status.ok()) {
    return Fail(status);
  }
  if (g.output == "json") {
    v1::ReadResponse all;
    for (const auto& e : entities) {
      *all.add_entities() = e;
    }
    all.set_revision(revision);
    std::cout << Json(all) << "\n";
  } else {
    PrintEntities(kind, entities);
  }
  return 0;
}

int Show(Client& client, const Globals& g, v1::EntityKind kind, const std::string& name) {
  v1::Entity entity;
  grpc::Status status = client.ReadOne(kind, name, &entity);
  if (!status.ok()) {
    return Fail(status);
  }
  if (g.output == "json") {
    std::cout << Json(entity) << "\n";
  } else {
    PrintEntities(kind, {entity});
  }
  return 0;
}

// Parses "ingress,tcp,80-90,10.0.0.0/8,allow" (ports "any" or "N" or "N-M"; remote "any").
bool ParseRule(const std::string& text, v1::SecurityGroupRule* rule, std::string* error) {
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  if (parts.size() != 5) {
    *error = absl::StrCat("rule \"", text,
                          "\" is not direction,protocol,ports,remote,action "
                          "(e.g. ingress,tcp,22,10.0.0.0/8,allow)");
    return false;
  }
  for (std::string& p : parts) {
    absl::AsciiStrToUpper(&p);
  }
  v1::SecurityGroupRule::Direction direction;
  v1::SecurityGroupRule::Protocol protocol;
  v1::SecurityGroupRule::Action action;
  if (!v1::SecurityGroupRule::Direction_Parse(parts[0], &direction)) {
    *error = absl::StrCat("rule \"", text, "\": direction must be ingress or egress");
    return false;
  }
  if (!v1::SecurityGroupRule::Protocol_Parse(parts[1], &protocol)) {
    *error = absl::StrCat("rule \"", text, "\": protocol must be any, icmp, tcp or udp");
    return false;
  }
  if (!v1::SecurityGroupRule::Action_Parse(parts[4], &action)) {
    *error = absl::StrCat("rule \"", text, "\": action must be allow or deny");
    return false;
  }
  rule->set_direction(direction);
  rule->set_protocol(protocol);
  rule->set_action(action);
  if (parts[2] != "ANY") {
    std::vector<std::string> range = absl::StrSplit(parts[2], '-');
    uint32_t lo = 0;
    uint32_t hi = 0;
    if (range.empty() || range.size() > 2 || !absl::SimpleAtoi(range[0], &lo) ||
        !absl::SimpleAtoi(range.back(), &hi)) {
      *error = absl::StrCat("rule \"", text, "\": ports must be any, N or N-M");
      return false;
    }
    rule->set_port_min(lo);
    rule->set_port_max(hi);
  }
  if (parts[3] != "ANY") {
    std::vector<std::string> original = absl::StrSplit(text, ',');
    rule->set_remote_cidr(original[3]);
  }
  return true;
}

// ----- apply ----------------------------------------------------------------------------------

int Apply(Client& client, const Globals& g, const std::string& path, bool prune, bool dry_run) {
  v1::PolicyDocument document;
  auto file = TextProtoFile::Load(path, &document);
  if (!file.ok()) {
    std::cerr << "nicswitchctl: " << file.status().message() << "\n";
    return 3;
  }
  std::vector<v1::Entity> existing;
  uint64_t revision = 0;
  grpc::Status status = client.ReadAll(v1::ENTITY_KIND_UNSPECIFIED, "", &existing, &revision);
  if (!status.ok()) {
    return Fail(status);
  }
  std::map<std::pair<int, std::string>, const v1::Entity*> current;
  for (const v1::Entity& e : existing) {
    current[{e.kind_case(), policy::NameOf(e)}] = &e;
  }

  // The document's entities in dependency order, with where each came from in the file.
  struct Item {
    v1::Entity entity;
    std::string doc_path;  // "vnics[2]"
  };
  std::vector<Item> items;
  if (document.has_underlay()) {
    v1::Entity e;
    *e.mutable_underlay() = document.underlay();
    if (e.underlay().name().empty()) {
      e.mutable_underlay()->set_name("default");
    }
    items.push_back({e, "underlay"});
  }
  for (int i = 0; i < document.security_groups_size(); ++i) {
    v1::Entity e;
    *e.mutable_security_group() = document.security_groups(i);
    items.push_back({e, absl::StrCat("security_groups[", i, "]")});
  }
  for (int i = 0; i < document.vpcs_size(); ++i) {
    v1::Entity e;
    *e.mutable_vpc() = document.vpcs(i);
    items.push_back({e, absl::StrCat("vpcs[", i, "]")});
  }
  for (int i = 0; i < document.vnics_size(); ++i) {
    v1::Entity e;
    *e.mutable_vnic() = document.vnics(i);
    items.push_back({e, absl::StrCat("vnics[", i, "]")});
  }
  for (int i = 0; i < document.mappings_size(); ++i) {
    v1::Entity e;
    *e.mutable_mapping() = document.mappings(i);
    items.push_back({e, absl::StrCat("mappings[", i, "]")});
  }
  for (int i = 0; i < document.routes_size(); ++i) {
    v1::Entity e;
    *e.mutable_route() = document.routes(i);
    items.push_back({e, absl::StrCat("routes[", i, "]")});
  }

  v1::WriteRequest request;
  request.set_atomicity(v1::WriteRequest::ROLLBACK_ON_ERROR);
  request.set_expected_revision(revision);
  request.set_validate_only(dry_run);
  std::vector<std::string> update_paths;
  int inserted = 0, modified = 0, unchanged = 0, deleted = 0;
  std::set<std::pair<int, std::string>> wanted;
  for (const Item& item : items) {
    auto key =
        std::make_pair(static_cast<int>(item.entity.kind_case()), policy::NameOf(item.entity));
    wanted.insert(key);
    auto it = current.find(key);
    if (it != current.end() && it->second->SerializeAsString() == item.entity.SerializeAsString()) {
      ++unchanged;
      continue;
    }
    v1::Update* update = request.add_updates();
    update->set_type(it == current.end() ? v1::Update::INSERT : v1::Update::MODIFY);
    *update->mutable_entity() = item.entity;
    update_paths.push_back(item.doc_path);
    (it == current.end() ? inserted : modified)++;
  }
  if (prune) {
    // Dependents first: the reverse of the read order's dependency order.
    static constexpr int kDeleteOrder[] = {v1::ROUTE, v1::MAPPING,        v1::VNIC,
                                           v1::VPC,   v1::SECURITY_GROUP, v1::UNDERLAY};
    for (int kind : kDeleteOrder) {
      for (const v1::Entity& e : existing) {
        if (e.kind_case() == kind && !wanted.count({kind, policy::NameOf(e)})) {
          v1::Update* update = request.add_updates();
          update->set_type(v1::Update::DELETE);
          *update->mutable_entity() = e;
          update_paths.push_back("");
          ++deleted;
        }
      }
    }
  }
  uint64_t new_revision = revision;
  if (request.updates_size() > 0) {
    status = client.Write(request, &new_revision);
    if (!status.ok()) {
      const TextProtoFile& where = **file;
      return Fail(status, [&](int i, const std::string& field) -> std::string {
        if (i < 0 || static_cast<size_t>(i) >= update_paths.size() || update_paths[i].empty()) {
          return "";
        }
        // "updates[i].entity.vnic.mac" -> "vnics[2].mac"
        std::vector<std::string> parts = absl::StrSplit(field, absl::MaxSplits('.', 3));
        std::string rest = parts.size() == 4 ? "." + parts[3] : "";
        return where.Where(update_paths[i] + rest);
      });
    }
  }
  if (g.output == "json") {
    std::cout << "{\"inserted\":" << inserted << ",\"modified\":" << modified
              << ",\"deleted\":" << deleted << ",\"unchanged\":" << unchanged
              << ",\"revision\":" << new_revision << ",\"dry_run\":" << (dry_run ? "true" : "false")
              << "}\n";
  } else {
    std::cout << (dry_run ? "would apply: " : "applied: ") << inserted << " inserted, " << modified
              << " modified, " << deleted << " deleted, " << unchanged << " unchanged; revision "
              << new_revision << "\n";
  }
  return 0;
}

// ----- flows, status, watch -------------------------------------------------------------------

int FlowsList(Client& client, const Globals& g, const std::string& vnic) {
  std::vector<v1::Flow> flows;
  std::string token;
  do {
    v1::ListFlowsRequest request;
    request.set_vnic(vnic);
    request.set_page_size(1000);
    request.set_page_token(token);
    grpc::ClientContext context;
    client.Prepare(&context);
    v1::ListFlowsResponse response;
    grpc::Status status = client.flows().ListFlows(&context, request, &response);
    if (!status.ok()) {
      return Fail(status);
    }
    flows.insert(flows.end(), response.flows().begin(), response.flows().end());
    token = response.next_page_token();
  } while (!token.empty());
  if (g.output == "json") {
    v1::ListFlowsResponse all;
    for (const auto& f : flows) {
      *all.add_flows() = f;
    }
    std::cout << Json(all) << "\n";
    return 0;
  }
  Table t({"ID", "VNIC", "DIR", "SRC", "DST", "PROTO", "SPORT", "DPORT", "VNI", "PACKETS", "BYTES",
           "PATH", "ACTIONS"});
  for (const v1::Flow& f : flows) {
    t.Add({absl::StrCat(f.id()), f.vnic(), f.direction(), f.src_ip(), f.dst_ip(),
           absl::StrCat(f.protocol()), absl::StrCat(f.src_port()), absl::StrCat(f.dst_port()),
           absl::StrCat(f.vni()), absl::StrCat(f.packets()), absl::StrCat(f.bytes()),
           f.software() ? "software" : "device", f.actions()});
  }
  t.Print();
  return 0;
}

int FlowsFlush(Client& client, const Globals& g, const std::string& vnic) {
  v1::FlushFlowsRequest request;
  request.set_vnic(vnic);
  grpc::ClientContext context;
  client.Prepare(&context);
  v1::FlushFlowsResponse response;
  grpc::Status status = client.flows().FlushFlows(&context, request, &response);
  if (!status.ok()) {
    return Fail(status);
  }
  if (g.output == "json") {
    std::cout << Json(response) << "\n";
  } else {
    std::cout << "flushed " << response.flushed() << " flows\n";
  }
  return 0;
}

int Status(Client& client, const Globals& g) {
  grpc::ClientContext context;
  client.Prepare(&context);
  v1::GetStatusResponse response;
  grpc::Status status = client.policy().GetStatus(&context, v1::GetStatusRequest(), &response);
  if (!status.ok()) {
    return Fail(status);
  }
  if (g.output == "json") {
    std::cout << Json(response) << "\n";
    return 0;
  }
  const v1::EntityCounts& c = response.entities();
  Table t({"FIELD", "VALUE"});
  t.Add({"desired_revision", absl::StrCat(response.desired_revision())});
  t.Add({"applied_revision", absl::StrCat(response.applied_revision())});
  t.Add({"in_sync", response.applied_revision() == response.desired_revision() ? "yes" : "no"});
  t.Add({"underlays", absl::StrCat(c.underlays())});
  t.Add({"vpcs", absl::StrCat(c.vpcs())});
  t.Add({"vnics", absl::StrCat(c.vnics())});
  t.Add({"mappings", absl::StrCat(c.mappings())});
  t.Add({"routes", absl::StrCat(c.routes())});
  t.Add({"security_groups", absl::StrCat(c.security_groups())});
  t.Add({"flows", absl::StrCat(response.flows())});
  t.Add({"software_flows", absl::StrCat(response.software_flows())});
  if (response.has_datapath()) {
    const v1::DatapathCounters& d = response.datapath();
    t.Add({"fast_path_packets", absl::StrCat(d.fast_path_packets())});
    t.Add({"slow_path_exceptions", absl::StrCat(d.exceptions())});
    t.Add({"flow_setups", absl::StrCat(d.flow_setups())});
    t.Add({"first_packets", absl::StrCat(d.first_packets())});
    t.Add({"software_packets", absl::StrCat(d.software_packets())});
    t.Add({"arp_replies", absl::StrCat(d.arp_replies())});
    t.Add({"rate_limited", absl::StrCat(d.rate_limited())});
    std::map<std::string, uint64_t> drops(d.drops_by_reason().begin(), d.drops_by_reason().end());
    for (const auto& [reason, count] : drops) {
      t.Add({absl::StrCat("drops_", reason), absl::StrCat(count)});
    }
  }
  t.Add({"version", response.version()});
  t.Print();
  if (response.capabilities_size() > 0) {
    // What the device offloads (probed at start-up) and what the agent forwards itself.
    std::cout << "\ndevice capabilities:\n";
    for (const v1::ShapeCapability& c : response.capabilities()) {
      std::cout << "  " << c.shape() << ": ";
      if (c.offloaded()) {
        std::cout << "offloaded";
      } else {
        std::cout << "software (" << (c.error().empty() ? "" : c.error() + ": ") << c.reason()
                  << ")";
        if (c.software_rules() > 0) {
          std::cout << ", " << c.software_rules() << " rules so far";
        }
      }
      std::cout << "\n";
    }
  }
  return 0;
}

int Watch(Client& client, const Globals& g, uint64_t from, int count) {
  v1::WatchRequest request;
  request.set_from_revision(from);
  grpc::ClientContext context;
  client.Prepare(&context, /*deadline=*/false);
  auto reader = client.policy().Watch(&context, request);
  v1::WatchEvent event;
  int seen = 0;
  while ((count <= 0 || seen < count) && reader->Read(&event)) {
    ++seen;
    if (g.output == "json") {
      std::cout << Json(event) << std::endl;
    } else {
      const std::string& name = policy::NameOf(event.entity());
      std::cout << event.revision() << " " << v1::WatchEvent::Type_Name(event.type());
      if (event.has_entity()) {
        std::cout << " " << policy::KindName(policy::KindOf(event.entity())) << " " << name;
      }
      std::cout << std::endl;
    }
  }
  if (count > 0 && seen >= count) {
    context.TryCancel();
    return 0;
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? 0 : Fail(status);
}

// ----- command line ---------------------------------------------------------------------------

int Main(int argc, char** argv) {
  Globals g;
  CLI::App app("nicswitchctl: manage a nicswitch agent's policy through its gRPC API");
  app.set_help_all_flag("--help-all", "Expand all help");
  app.add_option("-s,--server", g.server, "API address: unix:/path or host:port")
      ->capture_default_str()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--tls-ca", g.tls_ca, "CA certificate (PEM): use TLS");
  app.add_option("--tls-cert", g.tls_cert, "client certificate (PEM) for mutual TLS");
  app.add_option("--tls-key", g.tls_key, "client private key (PEM) for mutual TLS");
  app.add_option("-o,--output", g.output, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_seconds, "seconds per RPC")->capture_default_str();
  app.require_subcommand(1);

  Client client(g);
  std::function<int()> action;

  // Entity commands: add (INSERT), set (MODIFY), del, list, show.
  struct EntityCommand {
    v1::EntityKind kind;
    const char* name;
    const char* help;
  };
  static const EntityCommand kCommands[] = {
      {v1::VPC, "vpc", "virtual private clouds"},
      {v1::VNIC, "vnic", "virtual NICs (VFs)"},
      {v1::SECURITY_GROUP, "sg", "security groups"},
      {v1::MAPPING, "mapping", "remote endpoints (overlay IP -> VTEP)"},
      {v1::ROUTE, "route", "routes (prefix -> next hop)"},
      {v1::UNDERLAY, "underlay", "the underlay network (one, named default)"}};

  // Options of every kind (one set reused by add and set).
  std::string name, vpc, mac, ipv4, ipv6, overlay_ip, vtep, prefix, next_hop, uplink_mac,
      next_hop_mac, filter_vpc;
  uint32_t vni = 0, vf = 0, vxlan_port = 0, mtu = 0;
  uint64_t rate = 0, burst = 0;
  std::vector<std::string> cidrs, sgs, rules;

  auto build = [&](v1::EntityKind kind, v1::Entity* e) -> std::string {
    switch (kind) {
      case v1::VPC:
        e->mutable_vpc()->set_name(name);
        e->mutable_vpc()->set_vni(vni);
        for (const auto& c : cidrs) {
          e->mutable_vpc()->add_cidrs(c);
        }
        break;
      case v1::VNIC: {
        v1::Vnic* v = e->mutable_vnic();
        v->set_name(name);
        v->set_vpc(vpc);
        v->set_vf_index(vf);
        v->set_mac(mac);
        v->set_ipv4(ipv4);
        v->set_ipv6(ipv6);
        for (const auto& s : sgs) {
          v->add_security_groups(s);
        }
        if (rate > 0 || burst > 0) {
          v->mutable_qos()->set_rate_bps(rate);
          v->mutable_qos()->set_burst_bytes(burst);
        }
        break;
      }
      case v1::SECURITY_GROUP:
        e->mutable_security_group()->set_name(name);
        for (const auto& r : rules) {
          std::string error;
          if (!ParseRule(r, e->mutable_security_group()->add_rules(), &error)) {
            return error;
          }
        }
        break;
      case v1::MAPPING:
        e->mutable_mapping()->set_name(name);
        e->mutable_mapping()->set_vpc(vpc);
        e->mutable_mapping()->set_overlay_ip(overlay_ip);
        e->mutable_mapping()->set_remote_vtep_ip(vtep);
        e->mutable_mapping()->set_remote_mac(mac);
        break;
      case v1::ROUTE:
        e->mutable_route()->set_name(name);
        e->mutable_route()->set_vpc(vpc);
        e->mutable_route()->set_prefix(prefix);
        e->mutable_route()->set_next_hop(next_hop);
        break;
      case v1::UNDERLAY:
        e->mutable_underlay()->set_name(name.empty() ? "default" : name);
        e->mutable_underlay()->set_vtep_ip(vtep);
        e->mutable_underlay()->set_uplink_mac(uplink_mac);
        e->mutable_underlay()->set_next_hop_mac(next_hop_mac);
        e->mutable_underlay()->set_vxlan_port(vxlan_port);
        e->mutable_underlay()->set_mtu(mtu);
        break;
      default:
        break;
    }
    return "";
  };

  auto add_entity_options = [&](CLI::App* cmd, v1::EntityKind kind, bool name_required) {
    auto* n = cmd->add_option("name", name, "entity name");
    if (name_required) {
      n->required();
    }
    switch (kind) {
      case v1::VPC:
        cmd->add_option("--vni", vni, "VXLAN network identifier (1..16777215)")->required();
        cmd->add_option("--cidr", cidrs, "address range (repeat for several)")->required();
        break;
      case v1::VNIC:
        cmd->add_option("--vpc", vpc, "VPC name")->required();
        cmd->add_option("--vf", vf, "VF index")->required();
        cmd->add_option("--mac", mac, "MAC address")->required();
        cmd->add_option("--ipv4", ipv4, "IPv4 address");
        cmd->add_option("--ipv6", ipv6, "IPv6 address");
        cmd->add_option("--sg", sgs, "security group (repeat for several)");
        cmd->add_option("--rate-bps", rate, "QoS rate in bits/s");
        cmd->add_option("--burst-bytes", burst, "QoS burst in bytes");
        break;
      case v1::SECURITY_GROUP:
        cmd->add_option("--rule", rules,
                        "direction,protocol,ports,remote,action, e.g. ingress,tcp,22,10.0.0.0/8,"
                        "allow (repeat; order matters)");
        break;
      case v1::MAPPING:
        cmd->add_option("--vpc", vpc, "VPC name")->required();
        cmd->add_option("--ip", overlay_ip, "overlay IP address")->required();
        cmd->add_option("--vtep", vtep, "remote VTEP IPv4 address")->required();
        cmd->add_option("--mac", mac, "remote endpoint MAC")->required();
        break;
      case v1::ROUTE:
        cmd->add_option("--vpc", vpc, "VPC name")->required();
        cmd->add_option("--prefix", prefix, "destination prefix")->required();
        cmd->add_option("--next-hop", next_hop, "next-hop overlay IP")->required();
        break;
      case v1::UNDERLAY:
        cmd->add_option("--vtep-ip", vtep, "our VTEP IPv4 address")->required();
        cmd->add_option("--uplink-mac", uplink_mac, "uplink MAC")->required();
        cmd->add_option("--next-hop-mac", next_hop_mac, "underlay gateway MAC")->required();
        cmd->add_option("--vxlan-port", vxlan_port, "VXLAN UDP port (default 4789)");
        cmd->add_option("--mtu", mtu, "underlay MTU (default 1500)");
        break;
      default:
        break;
    }
  };

  for (const EntityCommand& ec : kCommands) {
    CLI::App* cmd = app.add_subcommand(ec.name, ec.help);
    cmd->require_subcommand(1);
    const v1::EntityKind kind = ec.kind;
    const bool underlay = kind == v1::UNDERLAY;
    if (!underlay) {
      CLI::App* add = cmd->add_subcommand("add", "create");
      add_entity_options(add, kind, true);
      add->callback([&, kind] {
        action = [&, kind] {
          v1::Entity e;
          if (std::string error = build(kind, &e); !error.empty()) {
            std::cerr << "nicswitchctl: " << error << "\n";
            return 2;
          }
          return WriteOne(client, g, v1::Update::INSERT, e);
        };
      });
    }
    CLI::App* set = cmd->add_subcommand("set", underlay ? "create or replace" : "replace");
    add_entity_options(set, kind, !underlay);
    set->callback([&, kind, underlay] {
      action = [&, kind, underlay] {
        v1::Entity e;
        if (std::string error = build(kind, &e); !error.empty()) {
          std::cerr << "nicswitchctl: " << error << "\n";
          return 2;
        }
        v1::Update::Type type = v1::Update::MODIFY;
        if (underlay) {
          v1::Entity existing;
          grpc::Status found = client.ReadOne(kind, "default", &existing);
          if (found.error_code() == grpc::StatusCode::NOT_FOUND) {
            type = v1::Update::INSERT;
          } else if (!found.ok()) {
            return Fail(found);
          }
        }
        return WriteOne(client, g, type, e);
      };
    });
    CLI::App* del = cmd->add_subcommand("del", "delete");
    del->add_option("name", name, "entity name");
    if (!underlay) {
      del->get_option("name")->required();
    }
    del->callback([&, kind] {
      action = [&, kind] {
        v1::Entity e;
        build(kind, &e);
        return WriteOne(client, g, v1::Update::DELETE, e);
      };
    });
    CLI::App* list = cmd->add_subcommand("list", "list (table or json)");
    if (kind == v1::VNIC || kind == v1::MAPPING || kind == v1::ROUTE) {
      list->add_option("--vpc", filter_vpc, "only this VPC's");
    }
    list->callback([&, kind] { action = [&, kind] { return List(client, g, kind, filter_vpc); }; });
    CLI::App* show = cmd->add_subcommand("show", "show one");
    show->add_option("name", name, "entity name");
    if (!underlay) {
      show->get_option("name")->required();
    }
    show->callback([&, kind] {
      action = [&, kind] {
        return Show(client, g, kind, name.empty() ? std::string("default") : name);
      };
    });
  }

  std::string vnic;
  CLI::App* flows = app.add_subcommand("flows", "installed flows");
  flows->require_subcommand(1);
  CLI::App* flows_list = flows->add_subcommand("list", "list flows with counters");
  flows_list->add_option("--vnic", vnic, "only this vNIC's flows");
  flows_list->callback([&] { action = [&] { return FlowsList(client, g, vnic); }; });
  CLI::App* flows_flush = flows->add_subcommand("flush", "remove flows (re-learned on traffic)");
  flows_flush->add_option("--vnic", vnic, "only this vNIC's flows");
  flows_flush->callback([&] { action = [&] { return FlowsFlush(client, g, vnic); }; });

  app.add_subcommand("status", "desired vs applied revision, counts")->callback([&] {
    action = [&] { return Status(client, g); };
  });

  uint64_t from = 0;
  int count = 0;
  CLI::App* watch = app.add_subcommand("watch", "stream policy changes");
  watch->add_option("--from", from, "last revision you have (0: snapshot first)");
  watch->add_option("--count", count, "exit after this many events");
  watch->callback([&] { action = [&] { return Watch(client, g, from, count); }; });

  std::string file;
  bool prune = false;
  bool dry_run = false;
  CLI::App* apply = app.add_subcommand("apply", "make the policy match a PolicyDocument file");
  apply->add_option("-f,--file", file, "policy.textproto (nicswitch.v1.PolicyDocument)")
      ->required();
  apply->add_flag("--prune", prune, "also delete entities the file does not list");
  apply->add_flag("--dry-run", dry_run, "validate on the server, change nothing");
  apply->callback([&] { action = [&] { return Apply(client, g, file, prune, dry_run); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (!action) {
    std::cerr << app.help();
    return 2;
  }
  (void)client.Connect();
  return action();
}

}  // namespace
}  // namespace nicswitch::ctl

int main(int argc, char** argv) { return nicswitch::ctl::Main(argc, argv); }
