// PolicyService and FlowService through a real gRPC server on a Unix socket.

#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "nicswitch/v1/flows.grpc.pb.h"
#include "nicswitch/v1/policy.grpc.pb.h"
#include "soc_agent/api/policy_server.h"
#include "tests/soc_agent/api/api_test_util.h"
#include "tests/support/test_env.h"

namespace nicswitch::api {
namespace {

using testing::Batch;
using testing::FieldOf;
using testing::PerUpdate;
using testing::U;

constexpr char kVpcA[] = "type: INSERT entity { vpc { name: 'a' vni: 100 cidrs: '10.0.0.0/16' } }";
constexpr char kVpcB[] = "type: INSERT entity { vpc { name: 'b' vni: 200 cidrs: '10.1.0.0/16' } }";
constexpr char kSgWeb[] =
    "type: INSERT entity { security_group { name: 'web' rules { direction: INGRESS protocol: TCP "
    "port_min: 80 port_max: 80 action: ALLOW } } }";

// A vNIC update in text format; `extra` (Vnic fields in text format) overrides the defaults.
std::string VnicText(const std::string& type, const std::string& name, int vf,
                     const std::string& extra = "") {
  v1::Update update =
      U(absl::StrCat("type: ", type, " entity { vnic { name: '", name, "' vpc: 'a' vf_index: ", vf,
                     " mac: '02:00:00:00:00:", absl::Hex(vf + 1, absl::kZeroPad2),
                     "' ipv4: '10.0.0.", vf + 10, "' } }"));
  v1::Vnic overrides;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(extra, &overrides)) << extra;
  update.mutable_entity()->mutable_vnic()->MergeFrom(overrides);
  std::string text;
  google::protobuf::TextFormat::PrintToString(update, &text);
  return text;
}

class PolicyApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testenv::TestTempDir("policy-api");
    options_.engine.store_path = dir_ + "/policy.db";
    options_.engine.durable = false;
    options_.engine.limits.max_vfs = 64;
    options_.engine.max_updates_per_batch = 1000;
    options_.unix_socket = dir_ + "/api.sock";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Start() {
    auto server = PolicyServer::Start(options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ =
        grpc::CreateChannel("unix:" + options_.unix_socket, grpc::InsecureChannelCredentials());
    policy_ = v1::PolicyService::NewStub(channel_);
    flows_ = v1::FlowService::NewStub(channel_);
  }
  void Restart() {
    policy_.reset();
    flows_.reset();
    channel_.reset();
    server_.reset();
    Start();
  }

  grpc::Status Write(const v1::WriteRequest& request, uint64_t* revision = nullptr) {
    grpc::ClientContext context;
    v1::WriteResponse response;
    grpc::Status status = policy_->Write(&context, request, &response);
    if (revision != nullptr) {
      auto trailer = context.GetServerTrailingMetadata().find("nicswitch-revision");
      EXPECT_NE(trailer, context.GetServerTrailingMetadata().end());
      *revision = std::stoull(std::string(trailer->second.data(), trailer->second.size()));
      if (status.ok()) {
        EXPECT_EQ(*revision, response.revision());
      }
    }
    return status;
  }
  grpc::Status Write(const std::vector<std::string>& updates) {
    std::vector<v1::Update> parsed;
    for (const std::string& u : updates) {
      parsed.push_back(U(u));
    }
    return Write(Batch(parsed));
  }
  void MustWrite(const std::vector<std::string>& updates) {
    grpc::Status status = Write(updates);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  std::vector<v1::Entity> ReadAll(v1::EntityKind kind = v1::ENTITY_KIND_UNSPECIFIED) {
    std::vector<v1::Entity> all;
    v1::ReadRequest request;
    request.set_kind(kind);
    request.set_page_size(1000);
    grpc::ClientContext context;
    v1::ReadResponse response;
    grpc::Status status = policy_->Read(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.entities().begin(), response.entities().end()};
  }
  v1::GetStatusResponse Status() {
    grpc::ClientContext context;
    v1::GetStatusResponse response;
    EXPECT_TRUE(policy_->GetStatus(&context, v1::GetStatusRequest(), &response).ok());
    return response;
  }

  std::string dir_;
  PolicyServerOptions options_;
  std::unique_ptr<PolicyServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::PolicyService::Stub> policy_;
  std::unique_ptr<v1::FlowService::Stub> flows_;
};

// ----- errors ---------------------------------------------------------------------------------

struct ErrorCase {
  std::string name;
  std::vector<std::string> setup;
  std::string update;
  grpc::StatusCode code;
  std::string field;
  std::string message_part;
};

TEST_F(PolicyApiTest, EveryErrorCodeNamesTheField) {
  const std::vector<ErrorCase> cases = {
      {"bad mac",
       {kVpcA},
       VnicText("INSERT", "vm1", 1, "mac: 'zz'"),
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.vnic.mac",
       "\"zz\""},
      {"bad cidr",
       {},
       "type: INSERT entity { vpc { name: 'x' vni: 5 cidrs: '10.0.0.0/33' } }",
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.vpc.cidrs[0]",
       "10.0.0.0/33"},
      {"host bits",
       {},
       "type: INSERT entity { vpc { name: 'x' vni: 5 cidrs: '10.0.0.1/24' } }",
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.vpc.cidrs[0]",
       "host bits"},
      {"vni over 24 bits",
       {},
       "type: INSERT entity { vpc { name: 'x' vni: 16777216 cidrs: '10.0.0.0/8' } }",
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.vpc.vni",
       "16777216"},
      {"vf out of range",
       {kVpcA},
       VnicText("INSERT", "vm1", 64),
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.vnic.vf_index",
       "64"},
      {"overlapping cidrs",
       {},
       "type: INSERT entity { vpc { name: 'x' vni: 5 cidrs: ['10.0.0.0/16', '10.0.128.0/24'] } }",
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.vpc.cidrs[1]",
       "overlaps"},
      {"ip outside vpc",
       {kVpcA},
       VnicText("INSERT", "vm1", 1, "ipv4: '192.168.0.1'"),
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.vnic.ipv4",
       "192.168.0.1"},
      {"bad sg port range",
       {},
       "type: INSERT entity { security_group { name: 's' rules { direction: INGRESS protocol: TCP "
       "port_min: 90 port_max: 80 action: ALLOW } } }",
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.security_group.rules[0].port_max",
       "90-80"},
      {"no entity",
       {},
       "type: INSERT",
       grpc::StatusCode::INVALID_ARGUMENT,
       "updates[0].entity.entity",
       "no entity"},
      {"modify missing",
       {},
       "type: MODIFY entity { vpc { name: 'nope' vni: 5 cidrs: '10.0.0.0/8' } }",
       grpc::StatusCode::NOT_FOUND,
       "updates[0].entity.vpc.name",
       "\"nope\""},
      {"delete missing",
       {},
       "type: DELETE entity { vnic { name: 'nope' } }",
       grpc::StatusCode::NOT_FOUND,
       "updates[0].entity.vnic.name",
       "\"nope\""},
      {"insert existing",
       {kVpcA},
       kVpcA,
       grpc::StatusCode::ALREADY_EXISTS,
       "updates[0].entity.vpc.name",
       "already exists"},
      {"duplicate vni",
       {kVpcA},
       "type: INSERT entity { vpc { name: 'c' vni: 100 cidrs: '10.9.0.0/16' } }",
       grpc::StatusCode::ALREADY_EXISTS,
       "updates[0].entity.vpc.vni",
       "100"},
      {"duplicate vf",
       {kVpcA, VnicText("INSERT", "vm1", 1)},
       "type: INSERT entity { vnic { name: 'vm2' vpc: 'a' vf_index: 1 mac: '02:00:00:00:01:01' "
       "ipv4: '10.0.1.1' } }",
       grpc::StatusCode::ALREADY_EXISTS,
       "updates[0].entity.vnic.vf_index",
       "vm1"},
      {"delete vpc with vnics",
       {kVpcA, VnicText("INSERT", "vm1", 1)},
       "type: DELETE entity { vpc { name: 'a' } }",
       grpc::StatusCode::FAILED_PRECONDITION,
       "updates[0].entity.vpc.name",
       "still has"},
      {"vnic names missing sg",
       {kVpcA},
       VnicText("INSERT", "vm1", 1, "security_groups: 'nosg'"),
       grpc::StatusCode::FAILED_PRECONDITION,
       "updates[0].entity.vnic.security_groups[0]",
       "\"nosg\""},
      {"vnic names missing vpc",
       {},
       "type: INSERT entity { vnic { name: 'v' vpc: 'zz' vf_index: 1 mac: '02:00:00:00:00:01' "
       "ipv4: '10.0.0.1' } }",
       grpc::StatusCode::FAILED_PRECONDITION,
       "updates[0].entity.vnic.vpc",
       "\"zz\""},
      {"delete sg in use",
       {kVpcA, kSgWeb, VnicText("INSERT", "vm1", 1, "security_groups: 'web'")},
       "type: DELETE entity { security_group { name: 'web' } }",
       grpc::StatusCode::FAILED_PRECONDITION,
       "updates[0].entity.security_group.name",
       "vm1"},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    // Each case starts from an empty store.
    server_.reset();
    std::filesystem::remove(options_.engine.store_path);
    std::filesystem::remove(options_.engine.store_path + "-wal");
    std::filesystem::remove(options_.engine.store_path + "-shm");
    Start();
    for (const std::string& s : c.setup) {
      MustWrite({s});
    }
    uint64_t before = Status().desired_revision();
    grpc::Status status = Write({c.update});
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_NE(status.error_message().find(c.message_part), std::string::npos)
        << status.error_message();
    std::vector<google::rpc::Status> per_update = PerUpdate(status);
    ASSERT_EQ(per_update.size(), 1u);
    EXPECT_EQ(per_update[0].code(), static_cast<int>(c.code));
    EXPECT_EQ(FieldOf(per_update[0]), c.field);
    EXPECT_EQ(Status().desired_revision(), before) << "a failed update moved the revision";
  }
}

TEST_F(PolicyApiTest, StaleExpectedRevisionIsAborted) {
  Start();
  MustWrite({kVpcA});
  v1::WriteRequest request = Batch({U(kVpcB)});
  request.set_expected_revision(7);
  grpc::Status status = Write(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(FieldOf(status), "expected_revision");
  EXPECT_EQ(ReadAll(v1::VPC).size(), 1u);
  request.set_expected_revision(1);
  uint64_t revision = 0;
  ASSERT_TRUE(Write(request, &revision).ok());
  EXPECT_EQ(revision, 2u);
}

TEST_F(PolicyApiTest, OversizedBatchIsResourceExhausted) {
  Start();
  std::vector<v1::Update> updates(1001, U(kVpcA));
  grpc::Status status = Write(Batch(updates));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(FieldOf(status), "updates");
  EXPECT_TRUE(ReadAll().empty());
}

// ----- batches --------------------------------------------------------------------------------

TEST_F(PolicyApiTest, ContinueOnErrorAppliesTheValidUpdatesAndReportsEachInOrder) {
  Start();
  uint64_t revision = 0;
  grpc::Status status = Write(Batch({U(kVpcA), U(VnicText("INSERT", "bad", 1, "mac: 'ff:ff'")),
                                     U(VnicText("INSERT", "vm2", 2))}),
                              &revision);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  std::vector<google::rpc::Status> per_update = PerUpdate(status);
  ASSERT_EQ(per_update.size(), 3u);
  EXPECT_EQ(per_update[0].code(), 0);
  EXPECT_EQ(per_update[1].code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(per_update[1]), "updates[1].entity.vnic.mac");
  EXPECT_EQ(per_update[2].code(), 0);
  EXPECT_EQ(revision, 1u);
  std::vector<v1::Entity> all = ReadAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].vpc().name(), "a");
  EXPECT_EQ(all[1].vnic().name(), "vm2");
  EXPECT_EQ(all[1].vnic().ipv4(), "10.0.0.12");
}

TEST_F(PolicyApiTest, RolledBackBatchLeavesNothingApplied) {
  Start();
  MustWrite({kSgWeb});
  v1::WriteRequest request =
      Batch({U(kVpcA), U(VnicText("INSERT", "vm1", 1, "security_groups: 'web'")),
             U("type: DELETE entity { security_group { name: 'web' } }"),
             U(VnicText("INSERT", "vm2", 2))});
  request.set_atomicity(v1::WriteRequest::ROLLBACK_ON_ERROR);
  uint64_t revision = 0;
  grpc::Status status = Write(request, &revision);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNKNOWN);
  std::vector<google::rpc::Status> per_update = PerUpdate(status);
  ASSERT_EQ(per_update.size(), 4u);
  EXPECT_EQ(per_update[0].code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(per_update[1].code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(per_update[2].code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(FieldOf(per_update[2]), "updates[2].entity.security_group.name");
  EXPECT_EQ(per_update[3].code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(revision, 1u);
  std::vector<v1::Entity> all = ReadAll();
  ASSERT_EQ(all.size(), 1u);  // only the security group written before
  EXPECT_EQ(all[0].security_group().name(), "web");
  // Nothing partial survives a restart either, and the index is clean: vf 1 is free.
  Restart();
  EXPECT_EQ(ReadAll().size(), 1u);
  EXPECT_EQ(Status().desired_revision(), 1u);
  MustWrite({kVpcA, VnicText("INSERT", "vm9", 1)});
}

TEST_F(PolicyApiTest, ValidateOnlyReportsButAppliesNothing) {
  Start();
  v1::WriteRequest request = Batch({U(kVpcA), U(VnicText("INSERT", "vm1", 1))});
  request.set_validate_only(true);
  uint64_t revision = 99;
  ASSERT_TRUE(Write(request, &revision).ok());
  EXPECT_EQ(revision, 0u);
  EXPECT_TRUE(ReadAll().empty());
  request = Batch({U(VnicText("INSERT", "vm1", 1))});
  request.set_validate_only(true);
  EXPECT_EQ(Write(request).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(PolicyApiTest, RetriedRequestIdIsAppliedOnce) {
  Start();
  v1::WriteRequest request = Batch({U(kVpcA)});
  request.set_request_id("req-1");
  uint64_t revision = 0;
  ASSERT_TRUE(Write(request, &revision).ok());
  EXPECT_EQ(revision, 1u);
  MustWrite({kVpcB});
  // The retry (say the first response was lost) is not an ALREADY_EXISTS and applies nothing.
  Restart();
  grpc::ClientContext context;
  v1::WriteResponse response;
  grpc::Status status = policy_->Write(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.revision(), 1u);
  auto replayed = context.GetServerTrailingMetadata().find("nicswitch-replayed");
  EXPECT_NE(replayed, context.GetServerTrailingMetadata().end());
  EXPECT_EQ(Status().desired_revision(), 2u);
  EXPECT_EQ(ReadAll(v1::VPC).size(), 2u);
  // A failed request's outcome is remembered too.
  v1::WriteRequest bad = Batch({U(kVpcA)});
  bad.set_request_id("req-2");
  EXPECT_EQ(Write(bad).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Write(bad).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  bad.set_request_id(std::string(129, 'x'));
  status = Write(bad);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(status), "request_id");
}

// ----- read -----------------------------------------------------------------------------------

TEST_F(PolicyApiTest, ReadPaginatesByKindAndName) {
  Start();
  std::vector<std::string> updates = {kVpcA, kVpcB, kSgWeb};
  for (int i = 0; i < 25; ++i) {
    updates.push_back(VnicText("INSERT", absl::StrCat("vm", absl::Dec(i, absl::kZeroPad2)), i));
  }
  MustWrite(updates);
  for (v1::EntityKind kind : {v1::VNIC, v1::ENTITY_KIND_UNSPECIFIED}) {
    std::vector<std::string> names;
    std::string token;
    int pages = 0;
    do {
      v1::ReadRequest request;
      request.set_kind(kind);
      request.set_page_size(10);
      request.set_page_token(token);
      grpc::ClientContext context;
      v1::ReadResponse response;
      ASSERT_TRUE(policy_->Read(&context, request, &response).ok());
      EXPECT_LE(response.entities_size(), 10);
      EXPECT_EQ(response.revision(), 1u);
      for (const v1::Entity& e : response.entities()) {
        names.push_back(absl::StrCat(e.kind_case(), "/", policy::NameOf(e)));
      }
      token = response.next_page_token();
      ++pages;
    } while (!token.empty());
    const size_t expected = kind == v1::VNIC ? 25 : 28;
    EXPECT_EQ(names.size(), expected);
    EXPECT_EQ(pages, kind == v1::VNIC ? 3 : 3);
    EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
    EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), expected);
  }
  // Filter by VPC, exact name, bad token, missing name.
  v1::ReadRequest request;
  request.set_vpc("b");
  grpc::ClientContext c1;
  v1::ReadResponse response;
  ASSERT_TRUE(policy_->Read(&c1, request, &response).ok());
  ASSERT_EQ(response.entities_size(), 1);
  EXPECT_EQ(response.entities(0).vpc().vni(), 200u);
  request.Clear();
  request.set_kind(v1::VNIC);
  request.set_name("vm07");
  grpc::ClientContext c2;
  ASSERT_TRUE(policy_->Read(&c2, request, &response).ok());
  EXPECT_EQ(response.entities(0).vnic().vf_index(), 7u);
  request.set_name("vm99");
  grpc::ClientContext c3;
  grpc::Status status = policy_->Read(&c3, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(FieldOf(status), "name");
  request.Clear();
  request.set_page_token("garbage");
  grpc::ClientContext c4;
  status = policy_->Read(&c4, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(FieldOf(status), "page_token");
}

// ----- watch ----------------------------------------------------------------------------------

// Reads a Watch stream on its own thread.
class WatchReader {
 public:
  WatchReader(v1::PolicyService::Stub& stub, uint64_t from_revision) {
    v1::WatchRequest request;
    request.set_from_revision(from_revision);
    reader_ = stub.Watch(&context_, request);
    thread_ = std::thread([this] {
      v1::WatchEvent event;
      while (reader_->Read(&event)) {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(event);
        cv_.notify_all();
      }
    });
  }
  ~WatchReader() {
    context_.TryCancel();
    thread_.join();
  }
  // Waits until `n` events arrived (5 s at most) and returns them all.
  std::vector<v1::WatchEvent> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(5), [&] { return events_.size() >= n; });
    return events_;
  }

 private:
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::WatchEvent> events_;
};

std::string Describe(const v1::WatchEvent& e) {
  return absl::StrCat(v1::WatchEvent::Type_Name(e.type()), "@", e.revision(),
                      e.has_entity() ? absl::StrCat(":", policy::NameOf(e.entity())) : "");
}

std::vector<std::string> Describe(const std::vector<v1::WatchEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    out.push_back(Describe(e));
  }
  return out;
}

TEST_F(PolicyApiTest, WatchDeliversSnapshotSyncThenEveryChangeOnceInOrder) {
  Start();
  MustWrite({kVpcA});
  MustWrite({kSgWeb});
  WatchReader watch(*policy_, 0);
  EXPECT_EQ(Describe(watch.WaitFor(3)),
            (std::vector<std::string>{"SNAPSHOT@2:web", "SNAPSHOT@2:a", "SYNC@2"}));
  MustWrite({VnicText("INSERT", "vm1", 1)});                                 // 3
  MustWrite({VnicText("MODIFY", "vm1", 1, "security_groups: 'web'")});       // 4
  MustWrite({kVpcB, VnicText("INSERT", "vm2", 2)});                          // 5
  MustWrite({"type: DELETE entity { vnic { name: 'vm1' } }"});               // 6
  ASSERT_EQ(Write({kVpcA}).error_code(), grpc::StatusCode::ALREADY_EXISTS);  // no revision
  MustWrite({"type: DELETE entity { vpc { name: 'b' } }"});                  // 7
  std::vector<v1::WatchEvent> events = watch.WaitFor(9);
  EXPECT_EQ(Describe(events),
            (std::vector<std::string>{"SNAPSHOT@2:web", "SNAPSHOT@2:a", "SYNC@2", "PUT@3:vm1",
                                      "PUT@4:vm1", "PUT@5:b", "PUT@5:vm2", "DELETE@6:vm1",
                                      "DELETE@7:b"}));
  ASSERT_EQ(events.size(), 9u);
  EXPECT_EQ(events[4].entity().vnic().security_groups(0), "web");
  // Nothing more arrives (exactly once).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(watch.WaitFor(0).size(), 9u);
}

TEST_F(PolicyApiTest, WatchResumesFromARevision) {
  Start();
  MustWrite({kVpcA});                         // 1
  MustWrite({VnicText("INSERT", "vm1", 1)});  // 2
  MustWrite({VnicText("INSERT", "vm2", 2)});  // 3
  WatchReader watch(*policy_, 1);
  EXPECT_EQ(Describe(watch.WaitFor(3)),
            (std::vector<std::string>{"PUT@2:vm1", "PUT@3:vm2", "SYNC@3"}));
  MustWrite({VnicText("INSERT", "vm3", 3)});  // 4
  EXPECT_EQ(Describe(watch.WaitFor(4)).back(), "PUT@4:vm3");
  WatchReader up_to_date(*policy_, 4);
  EXPECT_EQ(Describe(up_to_date.WaitFor(1)), (std::vector<std::string>{"SYNC@4"}));
}

TEST_F(PolicyApiTest, WatchFromATooOldRevisionResyncs) {
  options_.engine.watch_log_changes = 2;
  Start();
  MustWrite({kVpcA});                         // 1
  MustWrite({VnicText("INSERT", "vm1", 1)});  // 2
  MustWrite({VnicText("INSERT", "vm2", 2)});  // 3
  MustWrite({VnicText("INSERT", "vm3", 3)});  // 4: the log now starts after 2
  WatchReader old(*policy_, 1);
  EXPECT_EQ(Describe(old.WaitFor(6)),
            (std::vector<std::string>{"RESET@4", "SNAPSHOT@4:a", "SNAPSHOT@4:vm1", "SNAPSHOT@4:vm2",
                                      "SNAPSHOT@4:vm3", "SYNC@4"}));
  WatchReader recent(*policy_, 2);
  EXPECT_EQ(Describe(recent.WaitFor(3)),
            (std::vector<std::string>{"PUT@3:vm2", "PUT@4:vm3", "SYNC@4"}));
  // A revision from the future (the store was replaced) also resyncs.
  WatchReader future(*policy_, 100);
  EXPECT_EQ(Describe(future.WaitFor(1)).front(), "RESET@4");
}

// ----- durability, status, flows --------------------------------------------------------------

TEST_F(PolicyApiTest, RestartRestoresThePolicyAndRevisionExactly) {
  Start();
  MustWrite({kVpcA, kSgWeb, VnicText("INSERT", "vm1", 1, "security_groups: 'web'")});
  MustWrite(
      {"type: INSERT entity { mapping { name: 'm1' vpc: 'a' overlay_ip: '10.0.5.5' "
       "remote_vtep_ip: '192.0.2.7' remote_mac: '02:aa:00:00:00:01' } }",
       "type: INSERT entity { route { name: 'r1' vpc: 'a' prefix: '0.0.0.0/0' "
       "next_hop: '10.0.5.5' } }",
       "type: INSERT entity { underlay { vtep_ip: '192.0.2.1' uplink_mac: "
       "'02:bb:00:00:00:01' next_hop_mac: '02:bb:00:00:00:02' } }"});
  MustWrite({"type: DELETE entity { route { name: 'r1' } }"});
  std::vector<v1::Entity> before = ReadAll();
  Restart();
  std::vector<v1::Entity> after = ReadAll();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].SerializeAsString(), after[i].SerializeAsString()) << i;
  }
  v1::GetStatusResponse status = Status();
  EXPECT_EQ(status.desired_revision(), 3u);
  EXPECT_EQ(status.entities().vnics(), 1u);
  EXPECT_EQ(status.entities().mappings(), 1u);
  EXPECT_EQ(status.entities().routes(), 0u);
  EXPECT_EQ(status.entities().underlays(), 1u);
  // The restored indexes work: the VF and the mapping IP are still taken.
  EXPECT_EQ(Write({"type: INSERT entity { vnic { name: 'x' vpc: 'a' vf_index: 1 mac: "
                   "'02:00:00:00:09:09' ipv4: '10.0.9.9' } }"})
                .error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Write({"type: DELETE entity { vpc { name: 'a' } }"}).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(PolicyApiTest, StatusAndFlowsComeFromTheFlowTable) {
  Start();
  MustWrite({kVpcA, VnicText("INSERT", "vm1", 1), VnicText("INSERT", "vm2", 2)});
  testing::FakeFlowTable table;
  for (uint64_t id = 1; id <= 7; ++id) {
    FlowRecord r;
    r.id = id;
    r.vnic = id % 2 ? "vm1" : "vm2";
    r.direction = "egress";
    r.src_ip = "10.0.0.11";
    r.dst_ip = "10.0.0.12";
    r.protocol = 6;
    r.packets = id * 10;
    r.bytes = id * 1000;
    r.software = id == 7;
    table.Add(r);
  }
  table.set_applied_revision(1);
  // Without a flow table: no flows, applied revision 0.
  EXPECT_EQ(Status().applied_revision(), 0u);
  server_->AttachFlowTable(&table);
  v1::GetStatusResponse status = Status();
  EXPECT_EQ(status.desired_revision(), 1u);
  EXPECT_EQ(status.applied_revision(), 1u);
  EXPECT_EQ(status.flows(), 7u);
  EXPECT_EQ(status.software_flows(), 1u);

  std::vector<uint64_t> ids;
  std::string token;
  do {
    v1::ListFlowsRequest request;
    request.set_vnic("vm1");
    request.set_page_size(3);
    request.set_page_token(token);
    grpc::ClientContext context;
    v1::ListFlowsResponse response;
    ASSERT_TRUE(flows_->ListFlows(&context, request, &response).ok());
    for (const v1::Flow& f : response.flows()) {
      EXPECT_EQ(f.vnic(), "vm1");
      EXPECT_EQ(f.packets(), f.id() * 10);
      ids.push_back(f.id());
    }
    token = response.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 3, 5, 7}));

  v1::ListFlowsRequest unknown;
  unknown.set_vnic("nope");
  grpc::ClientContext c1;
  v1::ListFlowsResponse listed;
  grpc::Status s = flows_->ListFlows(&c1, unknown, &listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(FieldOf(s), "vnic");

  v1::FlushFlowsRequest flush;
  flush.set_vnic("vm2");
  grpc::ClientContext c2;
  v1::FlushFlowsResponse flushed;
  ASSERT_TRUE(flows_->FlushFlows(&c2, flush, &flushed).ok());
  EXPECT_EQ(flushed.flushed(), 3u);
  EXPECT_EQ(Status().flows(), 4u);
  server_->AttachFlowTable(nullptr);
}

}  // namespace
}  // namespace nicswitch::api
