// How the policy API is reached: Unix socket (mode 0660), TCP with TLS and mutual TLS, the
// standard gRPC health service and server reflection.

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "nicswitch/v1/policy.grpc.pb.h"
#include "soc_agent/api/policy_server.h"
#include "tests/support/test_env.h"

namespace nicswitch::api {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testenv::TestTempDir("policy-transport");
    options_.engine.store_path = dir_ + "/policy.db";
    options_.engine.durable = false;
    options_.unix_socket = dir_ + "/api.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A CA, a server certificate for localhost/127.0.0.1 and a client certificate, made now.
  void MakeCertificates() {
    std::string script = absl::StrCat(
        "set -e; cd ", dir_, "; exec >openssl.log 2>&1;",
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca "
        "-keyout ca.key -out ca.pem;",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key "
        "-out server.csr;",
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1' > san.ext;",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "-extfile san.ext -out server.pem;",
        "openssl req -newkey rsa:2048 -nodes -subj /CN=nicswitchctl -keyout client.key "
        "-out client.csr;",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
        "-out client.pem");
    ASSERT_EQ(std::system(script.c_str()), 0) << ReadFile(dir_ + "/openssl.log");
  }

  static grpc::StatusCode GetStatus(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = v1::PolicyService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    v1::GetStatusResponse response;
    return stub->GetStatus(&context, v1::GetStatusRequest(), &response).error_code();
  }

  std::string dir_;
  PolicyServerOptions options_;
};

TEST_F(TransportTest, UnixSocketIsMode0660AndRemovedOnShutdown) {
  options_.unix_socket = dir_ + "/run/nicswitch/api.sock";  // the directory is created
  auto server = PolicyServer::Start(options_);
  ASSERT_TRUE(server.ok()) << server.status();
  struct stat st {};
  ASSERT_EQ(stat(options_.unix_socket.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  EXPECT_EQ(GetStatus(grpc::CreateChannel("unix:" + options_.unix_socket,
                                          grpc::InsecureChannelCredentials())),
            grpc::StatusCode::OK);
  (*server)->Shutdown();
  EXPECT_FALSE(std::filesystem::exists(options_.unix_socket));
}

TEST_F(TransportTest, TcpWithoutTlsIsRefusedUnlessAskedFor) {
  options_.tcp_address = "127.0.0.1:0";
  auto server = PolicyServer::Start(options_);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("tls_cert_file"), std::string::npos);
  options_.tls_cert_file = dir_ + "/missing.pem";
  options_.tls_key_file = dir_ + "/missing.key";
  server = PolicyServer::Start(options_);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("missing.pem"), std::string::npos);
}

TEST_F(TransportTest, TlsServesClientsThatTrustTheCa) {
  MakeCertificates();
  options_.unix_socket.clear();
  options_.tcp_address = "127.0.0.1:0";
  options_.tls_cert_file = dir_ + "/server.pem";
  options_.tls_key_file = dir_ + "/server.key";
  auto server = PolicyServer::Start(options_);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string target = absl::StrCat("localhost:", (*server)->tcp_port());
  grpc::SslCredentialsOptions trust;
  trust.pem_root_certs = ReadFile(dir_ + "/ca.pem");
  EXPECT_EQ(GetStatus(grpc::CreateChannel(target, grpc::SslCredentials(trust))),
            grpc::StatusCode::OK);
  // Plaintext to a TLS port fails.
  EXPECT_NE(GetStatus(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
            grpc::StatusCode::OK);
}

TEST_F(TransportTest, MutualTlsRequiresAClientCertificateFromTheCa) {
  MakeCertificates();
  options_.unix_socket.clear();
  options_.tcp_address = "127.0.0.1:0";
  options_.tls_cert_file = dir_ + "/server.pem";
  options_.tls_key_file = dir_ + "/server.key";
  options_.tls_client_ca_file = dir_ + "/ca.pem";
  auto server = PolicyServer::Start(options_);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string target = absl::StrCat("localhost:", (*server)->tcp_port());
  grpc::SslCredentialsOptions no_cert;
  no_cert.pem_root_certs = ReadFile(dir_ + "/ca.pem");
  EXPECT_NE(GetStatus(grpc::CreateChannel(target, grpc::SslCredentials(no_cert))),
            grpc::StatusCode::OK);
  grpc::SslCredentialsOptions with_cert = no_cert;
  with_cert.pem_private_key = ReadFile(dir_ + "/client.key");
  with_cert.pem_cert_chain = ReadFile(dir_ + "/client.pem");
  EXPECT_EQ(GetStatus(grpc::CreateChannel(target, grpc::SslCredentials(with_cert))),
            grpc::StatusCode::OK);
}

// Generic unary call with hand-encoded protobuf bytes (the health and reflection protos are not
// compiled into this project).
grpc::Status UnaryBytes(grpc::GenericStub& stub, const std::string& method,
                        const std::string& request, std::string* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::Slice slice(request);
  grpc::ByteBuffer in(&slice, 1);
  grpc::ByteBuffer out;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &in, &out,
                 [&done](grpc::Status s) { done.set_value(s); });
  grpc::Status status = done.get_future().get();
  std::vector<grpc::Slice> slices;
  out.Dump(&slices);
  response->clear();
  for (const grpc::Slice& s : slices) {
    response->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

TEST_F(TransportTest, HealthServiceSaysServingAndReflectionListsTheServices) {
  auto server = PolicyServer::Start(options_);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel =
      grpc::CreateChannel("unix:" + options_.unix_socket, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  std::string response;
  // grpc.health.v1.HealthCheckRequest{} -> HealthCheckResponse{status: SERVING (1)} = 08 01.
  ASSERT_TRUE(UnaryBytes(stub, "/grpc.health.v1.Health/Check", "", &response).ok());
  EXPECT_EQ(response, std::string("\x08\x01", 2));

  // grpc.reflection.v1alpha.ServerReflectionRequest{list_services: ""} = 3a 00, on the
  // bidirectional stream.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag = nullptr;
  bool ok = false;
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice request_slice(std::string("\x3a\x00", 2));
  grpc::ByteBuffer request(&request_slice, 1);
  call->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  reply.Dump(&slices);
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  EXPECT_NE(bytes.find("nicswitch.v1.PolicyService"), std::string::npos);
  EXPECT_NE(bytes.find("nicswitch.v1.FlowService"), std::string::npos);
  EXPECT_NE(bytes.find("grpc.health.v1.Health"), std::string::npos);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace nicswitch::api
