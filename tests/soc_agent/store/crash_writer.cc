// The writer of the crash test: writes batches of 10 entities through the PolicyEngine (durable
// store) as fast as it can, printing "ACK <revision>" after each acknowledged batch, until it is
// killed. Batch k inserts VPC "b<k>" and its mappings "b<k>-m0".."b<k>-m8".

#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "soc_agent/api/policy_engine.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <store path>\n", argv[0]);
    return 2;
  }
  nicswitch::api::PolicyEngine::Options options;
  options.store_path = argv[1];
  options.durable = true;
  auto engine = nicswitch::api::PolicyEngine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().ToString().c_str());
    return 1;
  }
  for (;;) {
    uint64_t k = (*engine)->revision() + 1;
    nicswitch::v1::WriteRequest request;
    request.set_atomicity(nicswitch::v1::WriteRequest::ROLLBACK_ON_ERROR);
    std::string vpc = absl::StrCat("b", k);
    auto* v = request.add_updates();
    v->set_type(nicswitch::v1::Update::INSERT);
    v->mutable_entity()->mutable_vpc()->set_name(vpc);
    v->mutable_entity()->mutable_vpc()->set_vni(static_cast<uint32_t>(k));
    v->mutable_entity()->mutable_vpc()->add_cidrs("10.0.0.0/16");
    for (int i = 0; i < 9; ++i) {
      auto* u = request.add_updates();
      u->set_type(nicswitch::v1::Update::INSERT);
      auto* m = u->mutable_entity()->mutable_mapping();
      m->set_name(absl::StrCat(vpc, "-m", i));
      m->set_vpc(vpc);
      m->set_overlay_ip(absl::StrCat("10.0.0.", i + 1));
      m->set_remote_vtep_ip("192.0.2.1");
      m->set_remote_mac("02:00:00:00:00:01");
    }
    auto result = (*engine)->Write(request);
    if (result.status.code() != 0) {
      std::fprintf(stderr, "batch %llu failed: %s\n", static_cast<unsigned long long>(k),
                   result.status.message().c_str());
      return 1;
    }
    std::string ack = absl::StrCat("ACK ", result.revision, "\n");
    if (write(STDOUT_FILENO, ack.data(), ack.size()) != static_cast<ssize_t>(ack.size())) {
      return 1;
    }
  }
}
