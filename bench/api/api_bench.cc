// bench/api: policy API write latency and batched throughput with durability on (SQLite WAL,
// synchronous=FULL), through a real gRPC server on a Unix socket. Measured in the same run, on
// the same disk: the baseline is the store alone (the same SQLite transactions without gRPC,
// validation or the model), and the floor is the disk's own durable write (4 KiB overwrite +
// fdatasync, which is what a WAL commit costs at least).
//
//   api_bench [--single N] [--batches B] [--batch-size S] [--json FILE] [--dir DIR]

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nicswitch/v1/policy.grpc.pb.h"
#include "soc_agent/api/policy_server.h"
#include "soc_agent/store/policy_store.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace v1 = nicswitch::v1;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

v1::Entity Mapping(uint64_t i) {
  v1::Entity e;
  v1::Mapping* m = e.mutable_mapping();
  m->set_name(absl::StrCat("m", i));
  m->set_vpc("bench");
  m->set_overlay_ip(absl::StrCat("10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255));
  m->set_remote_vtep_ip("192.0.2.1");
  m->set_remote_mac("02:00:00:00:00:01");
  return e;
}

struct Result {
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double entities_per_s = 0;

  void SetLatencies(const std::vector<double>& latencies) {
    p50_ms = Percentile(latencies, 0.50);
    p99_ms = Percentile(latencies, 0.99);
    max_ms = Percentile(latencies, 1.0);
  }
};

// The three subjects, each able to do one durable single-entity write.
class ApiSubject {
 public:
  explicit ApiSubject(const std::string& dir) {
    nicswitch::api::PolicyServerOptions options;
    options.engine.store_path = dir + "/api.db";
    options.engine.durable = true;
    options.unix_socket = dir + "/api.sock";
    auto server = nicswitch::api::PolicyServer::Start(options);
    if (!server.ok()) {
      std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
      std::exit(1);
    }
    server_ = std::move(*server);
    stub_ = v1::PolicyService::NewStub(
        grpc::CreateChannel("unix:" + options.unix_socket, grpc::InsecureChannelCredentials()));
    v1::WriteRequest vpc;
    v1::Update* u = vpc.add_updates();
    u->set_type(v1::Update::INSERT);
    u->mutable_entity()->mutable_vpc()->set_name("bench");
    u->mutable_entity()->mutable_vpc()->set_vni(1);
    u->mutable_entity()->mutable_vpc()->add_cidrs("10.0.0.0/8");
    Write(vpc);
  }
  void Write(const v1::WriteRequest& request) {
    grpc::ClientContext context;
    v1::WriteResponse response;
    grpc::Status status = stub_->Write(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "write failed: %s\n", status.error_message().c_str());
      std::exit(1);
    }
  }
  void WriteOne() {
    v1::WriteRequest request;
    v1::Update* update = request.add_updates();
    update->set_type(v1::Update::INSERT);
    *update->mutable_entity() = Mapping(next_++);
    Write(request);
  }
  v1::WriteRequest MakeBatch(int size) {
    v1::WriteRequest request;
    for (int i = 0; i < size; ++i) {
      v1::Update* update = request.add_updates();
      update->set_type(v1::Update::INSERT);
      *update->mutable_entity() = Mapping(next_++);
    }
    return request;
  }

 private:
  std::unique_ptr<nicswitch::api::PolicyServer> server_;
  std::unique_ptr<v1::PolicyService::Stub> stub_;
  uint64_t next_ = 0;
};

class StoreSubject {
 public:
  explicit StoreSubject(const std::string& dir) {
    nicswitch::store::PolicyStore::Options options;
    options.path = dir + "/baseline.db";
    options.durable = true;
    auto opened = nicswitch::store::PolicyStore::Open(options);
    if (!opened.ok()) {
      std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
      std::exit(1);
    }
    store_ = std::move(*opened);
  }
  void Commit(const std::vector<nicswitch::policy::PolicyChange>& changes) {
    if (!store_->Commit(++revision_, changes, nullptr).ok()) {
      std::exit(1);
    }
  }
  void WriteOne() {
    std::vector<nicswitch::policy::PolicyChange> changes(1);
    changes[0].entity = Mapping(next_++);
    Commit(changes);
  }
  std::vector<nicswitch::policy::PolicyChange> MakeBatch(int size) {
    std::vector<nicswitch::policy::PolicyChange> changes(size);
    for (auto& c : changes) {
      c.entity = Mapping(next_++);
    }
    return changes;
  }

 private:
  std::unique_ptr<nicswitch::store::PolicyStore> store_;
  uint64_t revision_ = 0;
  uint64_t next_ = 0;
};

class DiskSubject {
 public:
  explicit DiskSubject(const std::string& dir) : block_(4096, 'x') {
    fd_ = open((dir + "/fsync.probe").c_str(), O_RDWR | O_CREAT, 0600);
    for (int i = 0; i < 256; ++i) {
      (void)!pwrite(fd_, block_.data(), block_.size(), static_cast<off_t>(i) * 4096);
    }
    fsync(fd_);
  }
  ~DiskSubject() { close(fd_); }
  void WriteOne() {
    (void)!pwrite(fd_, block_.data(), block_.size(), static_cast<off_t>(next_++ % 256) * 4096);
    fdatasync(fd_);
  }

 private:
  int fd_ = -1;
  std::vector<char> block_;
  uint64_t next_ = 0;
};

template <typename Subject>
void TimeOne(Subject& subject, std::vector<double>* latencies) {
  auto start = Clock::now();
  subject.WriteOne();
  latencies->push_back(Ms(Clock::now() - start));
}

}  // namespace

int main(int argc, char** argv) {
  int single = 2000;
  int batches = 50;
  int batch_size = 1000;
  std::string json_path = "api_bench.json";
  std::string base_dir = std::filesystem::temp_directory_path().string();
  CLI::App app("bench/api: policy API write latency and throughput, durability on");
  app.add_option("--single", single, "single-update writes")->capture_default_str();
  app.add_option("--batches", batches, "batches")->capture_default_str();
  app.add_option("--batch-size", batch_size, "updates per batch")->capture_default_str();
  app.add_option("--json", json_path, "JSON results file")->capture_default_str();
  app.add_option("--dir", base_dir, "where the store goes (the disk being measured)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const std::string dir = absl::StrCat(base_dir, "/nicswitch-api-bench-", getpid());
  std::filesystem::create_directories(dir);
  Result api, store, disk;
  {
    ApiSubject api_subject(dir);
    StoreSubject store_subject(dir);
    DiskSubject disk_subject(dir);
    // Single writes interleaved (API, store, disk, API, ...) so that all three see the same
    // disk and machine load; this machine's fsync latency moves with the other builds on it.
    std::vector<double> api_ms, store_ms, disk_ms;
    for (int i = 0; i < single; ++i) {
      TimeOne(api_subject, &api_ms);
      TimeOne(store_subject, &store_ms);
      TimeOne(disk_subject, &disk_ms);
    }
    api.SetLatencies(api_ms);
    store.SetLatencies(store_ms);
    disk.SetLatencies(disk_ms);
    // Batches alternate between the API and the store too.
    double api_s = 0;
    double store_s = 0;
    for (int b = 0; b < batches; ++b) {
      v1::WriteRequest request = api_subject.MakeBatch(batch_size);
      auto start = Clock::now();
      api_subject.Write(request);
      api_s += std::chrono::duration<double>(Clock::now() - start).count();
      auto changes = store_subject.MakeBatch(batch_size);
      start = Clock::now();
      store_subject.Commit(changes);
      store_s += std::chrono::duration<double>(Clock::now() - start).count();
    }
    api.entities_per_s = static_cast<double>(batches) * batch_size / api_s;
    store.entities_per_s = static_cast<double>(batches) * batch_size / store_s;
  }
  std::filesystem::remove_all(dir);

  std::printf(
      "bench/api: %d single-update writes, %d batches of %d (SQLite WAL, synchronous=FULL, "
      "store in %s)\n\n",
      single, batches, batch_size, base_dir.c_str());
  std::printf("%-32s %11s %16s %17s %9s\n", "metric", "API (gRPC)", "baseline: store",
              "floor: fdatasync", "target");
  std::printf("%-32s %11.3f %16.3f %17.3f %9s\n", "single-update write p50 (ms)", api.p50_ms,
              store.p50_ms, disk.p50_ms, "");
  std::printf("%-32s %11.3f %16.3f %17.3f %9s\n", "single-update write p99 (ms)", api.p99_ms,
              store.p99_ms, disk.p99_ms, "<= 5");
  std::printf("%-32s %11.3f %16.3f %17.3f %9s\n", "single-update write max (ms)", api.max_ms,
              store.max_ms, disk.max_ms, "");
  std::printf("%-32s %11.0f %16.0f %17s %9s\n", "batched throughput (entities/s)",
              api.entities_per_s, store.entities_per_s, "-", ">= 50000");
  std::string json = absl::StrFormat(
      "{\"benchmark\":\"api\",\"single_updates\":%d,\"batches\":%d,\"batch_size\":%d,"
      "\"api\":{\"write_p50_ms\":%.4f,\"write_p99_ms\":%.4f,\"write_max_ms\":%.4f,"
      "\"batched_entities_per_s\":%.0f},"
      "\"baseline_store\":{\"write_p50_ms\":%.4f,\"write_p99_ms\":%.4f,\"write_max_ms\":%.4f,"
      "\"batched_entities_per_s\":%.0f},"
      "\"floor_fdatasync\":{\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f},"
      "\"targets\":{\"write_p99_ms_max\":5,\"batched_entities_per_s_min\":50000},"
      "\"meets_targets\":%s}",
      single, batches, batch_size, api.p50_ms, api.p99_ms, api.max_ms, api.entities_per_s,
      store.p50_ms, store.p99_ms, store.max_ms, store.entities_per_s, disk.p50_ms, disk.p99_ms,
      disk.max_ms, api.p99_ms <= 5 && api.entities_per_s >= 50000 ? "true" : "false");
  std::printf("\n%s\n", json.c_str());
  std::ofstream(json_path) << json << "\n";
  return 0;
}
