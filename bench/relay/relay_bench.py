#!/usr/bin/env python3
"""Relay benchmark: Mpps and relay CPU cycles per packet, VF->guest and guest->VF, at several
frame sizes, for nicswitch-relay with zero copy, nicswitch-relay in copy mode, and DPDK testpmd
io-forwarding between net_vhost and the same VF stand-in -- same guest generator
(nicswitch-traffic on net_virtio_user, lcore 0) and same relay core (lcore 1), in one run.

The VF stand-in is net_null,copy=1 (its RX memcpy()s a frame into the buffer it is given, like a
NIC's DMA, on the relay's CPU; its TX frees). Mpps is measured by the guest (frames received for
VF->guest, frames the virtio ring accepted for guest->VF). Cycles per packet: nicswitch-relay
counts the TSC cycles of its poll rounds that moved packets; testpmd --record-core-cycles reports
its forwarding core's busy cycles per packet. Prints a table and writes JSON.
"""
import argparse
import glob
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def wait_for(path, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


def eal(prefix, lcores, vdevs, mem=1024, huge=False):
    # Hugepage-backed memory is how vhost-user guests are deployed (QEMU's memory backend on
    # hugetlbfs): with 4 KiB pages every guest buffer the backend touches costs a TLB miss,
    # which in a VM is a two-dimensional page walk. Same for every mode of a run.
    args = ["-l", lcores, "--no-pci", "-m", str(mem), "--file-prefix", prefix,
            "--no-telemetry", "--log-level=lib.eal:warning"]
    args += ["--single-file-segments"] if huge else ["--no-huge"]
    for v in vdevs:
        args += ["--vdev", v]
    return args


def free_hugepages_mb():
    try:
        with open("/proc/meminfo") as f:
            info = dict(l.split(":", 1) for l in f)
        free = int(info["HugePages_Free"].split()[0])
        size_kb = int(info["Hugepagesize"].split()[0])
        with open("/proc/mounts") as f:
            mounted = any(l.split()[2] == "hugetlbfs" for l in f if len(l.split()) > 2)
        return free * size_kb // 1024 if mounted else 0
    except (OSError, KeyError, ValueError):
        return 0


def one_run(a, mode, direction, size, tmp, run_id):
    sock = os.path.join(tmp, f"vhost-{run_id}.sock")
    # net_null cannot combine copy=1 and no-rx=1: guest->VF runs use a TX that frees unread.
    # The VF stand-in. guest->VF: a TX that frees unread (a NIC's DMA reads the frame without
    # the host's CPU). VF->guest, "dma": an RX that hands out the posted buffers with the frame
    # length set and writes nothing, which is what a NIC's DMA costs the host CPU; "cpu-copy": an
    # RX that memcpy()s the frame into the buffer on the polling core (net_null cannot combine
    # copy=1 and no-rx=1).
    if direction == "guest_to_vf":
        null = f"net_null0,size={size},no-rx=1"
    else:
        null = f"net_null0,size={size}" + (",copy=1" if a.vf_stand_in == "cpu-copy" else "")
    prefix = f"relaybench-{os.getpid()}-{run_id}"
    log = open(os.path.join(tmp, f"backend-{run_id}.log"), "w+")
    if mode == "testpmd":
        cmd = [a.testpmd] + eal(prefix + "-b", "0,1", [f"net_vhost0,iface={sock},queues=1", null],
                                mem=256, huge=a.huge) + [
            "--main-lcore", "0", "--", "--forward-mode=io", "--nb-cores=1",
            "--total-num-mbufs=16384", "--record-core-cycles", "--stats-period", "0"]
        backend = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE)
    else:
        cmd = [a.relay, "--socket", sock, "--vf", null, "--stats-interval-s", "0"]
        if mode == "copy":
            cmd += ["--rx-zero-copy", "false", "--tx-zero-copy", "false"]
        cmd += ["--"] + eal(prefix + "-b", "1", [], mem=256, huge=a.huge)
        backend = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_for(sock, 15):
            raise RuntimeError(f"{mode}: no vhost-user socket")
        guest_cmd = [a.traffic, "--duration-s", str(a.duration), "--sizes", str(size),
                     "--wait-link-s", "10", "--start-delay-s", "0.3"]
        if direction == "vf_to_guest":
            guest_cmd += ["--no-tx"]
        guest_cmd += ["--"] + eal(prefix + "-g", "0", [f"net_virtio_user0,path={sock},queues=1"],
                                  mem=256 if a.huge else 512, huge=a.huge)
        try:
            out = subprocess.run(guest_cmd, capture_output=True, text=True,
                                 timeout=a.duration + 30)
        except subprocess.TimeoutExpired:
            print(f"  run {run_id} ({mode} {direction} {size}): guest timed out", flush=True)
            return None, None
        line = [l for l in out.stdout.splitlines() if l.startswith("{")]
        if not line:
            print(f"  run {run_id} ({mode} {direction} {size}): guest failed", flush=True)
            return None, None
        g = json.loads(line[-1])
    finally:
        backend.send_signal(signal.SIGINT)
        try:
            backend.wait(timeout=15)
        except subprocess.TimeoutExpired:
            backend.kill()
            backend.wait()
    for f in glob.glob(f"/dev/hugepages/{prefix}-*"):  # DPDK leaves its hugepage files
        try:
            os.unlink(f)
        except OSError:
            pass
    log.seek(0)
    text = log.read()
    log.close()
    mpps = g["rx_mpps"] if direction == "vf_to_guest" else g["tx_mpps"]
    cpp = None
    if mode == "testpmd":
        m = re.findall(r"CPU cycles/packet=([0-9.]+)", text)
        if m:
            cpp = float(m[-1])
    else:
        busy = re.search(r"busy_cycles=([0-9]+)", text)
        q = "to_guest" if direction == "vf_to_guest" else "from_guest"
        pk = re.search(rf"q0 {q} packets=([0-9]+)", text)
        if busy and pk and int(pk.group(1)) > 0:
            cpp = int(busy.group(1)) / int(pk.group(1))
    return mpps, cpp


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--relay", default=os.path.join(here, "../../build/host_relay/nicswitch-relay"))
    p.add_argument("--traffic",
                   default=os.path.join(here, "../../build/tests/host_relay/nicswitch-traffic"))
    p.add_argument("--testpmd", default="dpdk-testpmd")
    p.add_argument("--sizes", default="64,512,1518")
    p.add_argument("--directions", default="vf_to_guest,guest_to_vf")
    p.add_argument("--modes", default="zero_copy,copy,testpmd")
    p.add_argument("--vf-stand-in", choices=("dma", "cpu-copy"), default="dma",
                   help="how the VF stand-in delivers VF->guest frames (see one_run)")
    p.add_argument("--memory", choices=("auto", "huge", "no-huge"), default="auto",
                   help="guest and backend memory: 2 MiB hugepages (auto: when 600 MiB are free)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=1.5)
    p.add_argument("--json", default="relay_bench.json")
    a = p.parse_args()
    a.huge = a.memory == "huge" or (a.memory == "auto" and free_hugepages_mb() >= 600)
    print(f"memory: {'2 MiB hugepages' if a.huge else '4 KiB pages (--no-huge)'}", flush=True)
    sizes = [int(s) for s in a.sizes.split(",")]
    results = []
    run_id = 0
    failed = 0
    with tempfile.TemporaryDirectory(prefix="relaybench-") as tmp:
        for size in sizes:
            for direction in a.directions.split(","):
                modes = a.modes.split(",")
                mpps = {m: [] for m in modes}
                cpps = {m: [] for m in modes}
                # Modes interleaved run by run: the VM's speed drifts, so each mode sees the same
                # mix of good and bad moments.
                for _ in range(a.runs):
                    for mode in modes:
                        run_id += 1
                        m, c = one_run(a, mode, direction, size, tmp, run_id)
                        if m is None:
                            failed += 1
                            continue
                        mpps[mode].append(m)
                        if c is not None:
                            cpps[mode].append(c)
                for mode in modes:
                    mp = mpps[mode] or [0.0]
                    cp = cpps[mode]
                    r = {"size": size, "direction": direction, "mode": mode, "mpps": mp,
                         "mpps_min": min(mp), "mpps_median": statistics.median(mp),
                         "cycles_per_packet": cp,
                         "cycles_per_packet_median": statistics.median(cp) if cp else None}
                    results.append(r)
                    print(f"{size:5d} {direction:12s} {mode:10s} Mpps min {r['mpps_min']:.3f} "
                          f"median {r['mpps_median']:.3f}  cycles/pkt "
                          f"{r['cycles_per_packet_median'] or float('nan'):.0f}", flush=True)
    print()
    print("| size | direction | zero copy Mpps (min/med) | copy Mpps | testpmd Mpps | "
          "zc/testpmd | cycles/pkt zc | copy | testpmd |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        for direction in a.directions.split(","):
            row = {r["mode"]: r for r in results if r["size"] == size and r["direction"] == direction}
            if not all(m in row for m in ("zero_copy", "copy", "testpmd")):
                continue
            zc, cp, tp = row["zero_copy"], row["copy"], row["testpmd"]
            ratio = zc["mpps_median"] / tp["mpps_median"] if tp["mpps_median"] else float("nan")
            fmt = lambda r: f"{r['mpps_min']:.2f}/{r['mpps_median']:.2f}"
            cyc = lambda r: (f"{r['cycles_per_packet_median']:.0f}"
                             if r["cycles_per_packet_median"] else "-")
            print(f"| {size} | {direction} | {fmt(zc)} | {fmt(cp)} | {fmt(tp)} | {ratio:.2f}x | "
                  f"{cyc(zc)} | {cyc(cp)} | {cyc(tp)} |")
    with open(a.json, "w") as f:
        json.dump({"benchmark": "relay", "vf_stand_in": a.vf_stand_in, "hugepages": a.huge, "runs": a.runs, "duration_s": a.duration,
                   "failed_runs": failed, "results": results}, f, indent=2)
    print(f"\nJSON: {a.json}; failed runs (excluded): {failed}")


if __name__ == "__main__":
    sys.exit(main())
