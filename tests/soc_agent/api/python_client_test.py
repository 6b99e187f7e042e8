#!/usr/bin/env python3
"""A client in another language: Python stubs generated now from proto/ (python3-grpc-tools),
talking to nicswitch-policyd over its Unix socket. Creates a VPC and a vNIC, reads them back,
and checks that a bad update is refused with the field named in grpc-status-details-bin.

usage: python_client_test.py <nicswitch-policyd> <proto dir>
"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    policyd, proto_dir = sys.argv[1], sys.argv[2]
    work = tempfile.mkdtemp(prefix="nicswitch-pyclient-")
    daemon = None
    try:
        stubs = os.path.join(work, "stubs")
        os.makedirs(stubs)
        protos = [os.path.join(proto_dir, p) for p in
                  ("nicswitch/v1/policy.proto", "nicswitch/v1/flows.proto",
                   "google/rpc/status.proto", "google/rpc/error_details.proto")]
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + proto_dir,
                        "--python_out=" + stubs, "--grpc_python_out=" + stubs] + protos,
                       check=True)
        sys.path.insert(0, stubs)
        import grpc
        from nicswitch.v1 import policy_pb2 as pb
        from nicswitch.v1 import policy_pb2_grpc as pb_grpc
        from google.rpc import status_pb2, error_details_pb2

        socket = os.path.join(work, "api.sock")
        daemon = subprocess.Popen([policyd, "--store", os.path.join(work, "policy.db"),
                                   "--socket", socket, "--log-level", "warn"],
                                  stdout=subprocess.PIPE, text=True)
        ready = daemon.stdout.readline()
        assert ready.startswith("ready"), "policyd did not start: %r" % ready

        channel = grpc.insecure_channel("unix:" + socket)
        stub = pb_grpc.PolicyServiceStub(channel)
        vpc = pb.Vpc(name="prod", vni=4242, cidrs=["10.8.0.0/16"])
        vnic = pb.Vnic(name="vm-py", vpc="prod", vf_index=5, mac="02:00:00:00:05:05",
                       ipv4="10.8.0.5", qos=pb.Qos(rate_bps=10**9, burst_bytes=64000))
        request = pb.WriteRequest(updates=[
            pb.Update(type=pb.Update.INSERT, entity=pb.Entity(vpc=vpc)),
            pb.Update(type=pb.Update.INSERT, entity=pb.Entity(vnic=vnic)),
        ], request_id="python-1")
        response = stub.Write(request, timeout=10)
        assert response.revision == 1, response

        read = stub.Read(pb.ReadRequest(kind=pb.VNIC, name="vm-py"), timeout=10)
        assert len(read.entities) == 1 and read.entities[0].vnic == vnic, read
        everything = stub.Read(pb.ReadRequest(), timeout=10)
        assert [e.WhichOneof("kind") for e in everything.entities] == ["vpc", "vnic"], everything
        assert everything.entities[0].vpc == vpc

        # A refused update names its field (P4Runtime-style details).
        bad = pb.WriteRequest(updates=[pb.Update(type=pb.Update.INSERT, entity=pb.Entity(
            vnic=pb.Vnic(name="vm-bad", vpc="prod", vf_index=6, mac="not-a-mac",
                         ipv4="10.8.0.6")))])
        try:
            stub.Write(bad, timeout=10)
            raise AssertionError("a bad MAC was accepted")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
            details = dict(error.trailing_metadata())["grpc-status-details-bin"]
            top = status_pb2.Status.FromString(details)
            update = status_pb2.Status()
            assert top.details[0].Unpack(update)
            bad_request = error_details_pb2.BadRequest()
            assert update.details[0].Unpack(bad_request)
            field = bad_request.field_violations[0].field
            assert field == "updates[0].entity.vnic.mac", field

        status = stub.GetStatus(pb.GetStatusRequest(), timeout=10)
        assert status.desired_revision == 1 and status.entities.vnics == 1, status
        print("python client: VPC and vNIC written and read back; errors name the field")
        return 0
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
