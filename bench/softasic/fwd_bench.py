#!/usr/bin/env python3
"""softasic as a forwarding process vs DPDK testpmd --forward-mode=io, across processes.

Both run as they are deployed: their own process, one forwarding lcore (lcore 1) busy-polling two
net_memif server ports (vf0, up). The same traffic generator (softasic_fwd generate, lcore 0,
memif clients in zero-copy mode so that it is not the bottleneck) keeps 512 64-byte frames of N
flows circulating: into vf0, out of up, back into vf0. Figures per run:
  - Mpps: frames the generator got back per second (its window starts after a warm-up);
  - cycles/packet: the forwarding lcore's TSC cycles in port polls that moved packets over the
    packets they moved (testpmd --record-core-cycles; softasic record_busy_cycles), read while
    the generator still sends;
  - the generator's share of empty polls (near 100 %: the process under test is the bottleneck;
    below 90 % the table says so: that forwarder's Mpps then understates it, and when it is
    testpmd's, every ratio overstates the softasic).
Configurations run interleaved (testpmd, softasic N rules plain/encap, ...) --runs times; the
table gives min/median over runs and the softasic/testpmd Mpps ratio of medians.

Unlike softasic_bench (same process, same core, packets never leave the core's caches), here every
frame crosses cores twice through shared memory, as a VF's frames do; on a VM whose two vCPUs
share no fast cache this transfer dominates both contestants' cost.
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


def wait_for_line(proc_log, pattern, timeout):  # pattern in the process's log file
    end = time.time() + timeout
    while time.time() < end:
        with open(proc_log) as f:
            if re.search(pattern, f.read()):
                return True
        time.sleep(0.05)
    return False


def wait_for_path(path, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def stop(proc, timeout=20):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def one_run(a, config, tmp, run_id):
    """config: ("testpmd", 0, False) or ("softasic", rules, encap). Returns a dict or None."""
    kind, rules, encap = config
    d = os.path.join(tmp, f"run{run_id}")
    os.makedirs(d)
    log_path = os.path.join(d, "dut.log")
    log = open(log_path, "w")
    vf0, up = os.path.join(d, "vf0.sock"), os.path.join(d, "up.sock")
    if kind == "testpmd":
        prefix = f"fwdbench-{os.getpid()}-{run_id}"
        memif = "role=server,id=0,socket-abstract=no"
        cmd = [a.testpmd, "-l", "0,1", "--main-lcore", "0", "--no-pci", "--file-prefix", prefix,
               "--huge-unlink", "--no-telemetry", "--log-level=lib.eal:warning",
               "--vdev", f"net_memif0,{memif},socket={vf0}",
               "--vdev", f"net_memif1,{memif},socket={up}",
               "--", "-i", "--auto-start", "--forward-mode=io", "--nb-cores=1",
               "--record-core-cycles", "--total-num-mbufs=16384"]
        commands = {"clear": "clear fwd stats all\n", "show": "show fwd stats all\n"}
    else:
        cmd = [a.fwd, "serve", "--dir", d, "--rules", str(rules)] + (["--encap"] if encap else [])
        commands = {"clear": "clear\n", "show": "show\n"}
    dut = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE,
                           text=True)

    def tell(what):
        dut.stdin.write(commands.get(what, what + "\n"))
        dut.stdin.flush()

    gen = None
    out = ""
    try:
        ready = wait_for_path(vf0, 120) and wait_for_path(up, 10)
        if kind == "softasic":
            ready = ready and wait_for_line(log_path, r"(?m)^ready", 120)
        else:
            time.sleep(1)  # testpmd's forwarding lcore starts after its ports
        if not ready:
            print(f"  run {run_id} {kind}: did not start", flush=True)
            return None
        flows = max(rules, 1) if kind == "softasic" else a.flows_for_testpmd
        gen_cmd = [a.fwd, "generate", "--in", vf0, "--out", up, "--flows", str(flows),
                   "--seconds", str(a.seconds), "--warmup", str(a.warmup), "--lcore", "0"]
        gen = subprocess.Popen(gen_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.PIPE, text=True)
        # The forwarder's measurement window is the generator's.
        for line in gen.stdout:
            out += line
            if line.startswith("window start"):
                tell("clear")
            elif line.startswith("window end"):
                break
        # The generator has stopped sending and stays connected: read the forwarder, stop it,
        # then let the generator report (see softasic_fwd.cc on why in this order).
        tell("show")
        tell("quit")
        dut.stdin.close()
        dut.wait(timeout=30)
        rest, _ = gen.communicate(input="stop\n", timeout=30)
        out += rest
    except (subprocess.TimeoutExpired, BrokenPipeError, OSError) as e:
        print(f"  run {run_id} {kind}: {e}", flush=True)
    finally:
        stop(dut)
        if gen is not None and gen.poll() is None:
            gen.kill()
            gen.wait()
        log.close()
        for f in glob.glob(f"/dev/hugepages/softasic-fwd-{gen.pid if gen else 0}*") + glob.glob(
                f"/dev/hugepages/fwdbench-{os.getpid()}-{run_id}*"):
            try:
                os.unlink(f)
            except OSError:
                pass
    lines = [l for l in out.splitlines() if l.startswith("{")]
    if not lines:
        code = gen.returncode if gen else None
        print(f"  run {run_id} {kind}: generator failed (exit {code}): {out.strip()[-300:]}",
              flush=True)
        return None
    g = json.loads(lines[-1])
    text = open(log_path).read()
    cpp = None
    if kind == "testpmd":
        m = re.findall(r"CPU cycles/packet=([0-9.]+)", text)
        cpp = float(m[0]) if m else None  # the "show" right after the window
    else:
        m = [l for l in text.splitlines() if l.startswith("{")]
        if m:
            s = json.loads(m[-1])
            cpp = s["cycles_per_packet"] or None
            if s["vf_misses"] or s["vf_drops"] or s["uplink_drops"]:
                print(f"  run {run_id}: softasic missed {s['vf_misses']}, dropped "
                      f"{s['vf_drops']} + {s['uplink_drops']}: a rule did not match", flush=True)
                return None
    idle = g["empty_rx_polls"] / g["rx_polls"] if g["rx_polls"] else 0.0
    return {"mpps": g["mpps"], "cycles_per_packet": cpp, "generator_idle": idle}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--fwd", default=os.path.join(here, "../../build/bench/softasic/softasic_fwd"))
    p.add_argument("--testpmd", default="dpdk-testpmd")
    p.add_argument("--rules", default="1,1000000", help="comma-separated rule counts")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--flows-for-testpmd", type=int, default=512)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    configs = [("testpmd", 0, False)]
    for n in [int(x) for x in a.rules.split(",")]:
        configs += [("softasic", n, False), ("softasic", n, True)]
    results = {c: [] for c in configs}
    tmp = tempfile.mkdtemp(prefix="fwdbench-")
    run_id = 0
    for r in range(a.runs):
        for c in configs:
            res = one_run(a, c, tmp, run_id)
            run_id += 1
            if res is not None:
                res["round"] = r
                results[c].append(res)
                cpp = res["cycles_per_packet"]
                print(f"  run {r + 1}: {c[0]:8} {c[1]:>8} {'encap' if c[2] else 'plain':5} "
                      f"{res['mpps']:7.2f} Mpps  {cpp if cpp else float('nan'):7.1f} cycles/pkt"
                      f"  generator idle {100 * res['generator_idle']:.1f}%", flush=True)
    base = results[configs[0]]
    base_mpps = statistics.median([x["mpps"] for x in base]) if base else None
    base_by_round = {x["round"]: x["mpps"] for x in base}
    print("\n| forwarder | rules | encap | Mpps min / median | cycles/pkt min / median "
          "| x testpmd (median Mpps) | x testpmd, same round (min / median) "
          "| generator idle (median) |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for c in configs:
        rs = results[c]
        if not rs:
            print(f"| {c[0]} | {c[1] or '-'} | {'yes' if c[2] else 'no'} | failed | | | | |")
            continue
        mp = [x["mpps"] for x in rs]
        cp = [x["cycles_per_packet"] for x in rs if x["cycles_per_packet"]]
        ratio = statistics.median(mp) / base_mpps if base_mpps else None
        # The VM changes speed for minutes at a time (see README): a run next to the testpmd
        # run of its own round, a few seconds apart, is compared in the same conditions.
        paired = [x["mpps"] / base_by_round[x["round"]] for x in rs
                  if base_by_round.get(x["round"])]
        idle = statistics.median([x["generator_idle"] for x in rs])
        row = {"forwarder": c[0], "rules": c[1], "encap": c[2], "runs": len(rs),
               "mpps_min": min(mp), "mpps_median": statistics.median(mp),
               "cycles_min": min(cp) if cp else None,
               "cycles_median": statistics.median(cp) if cp else None,
               "ratio_to_testpmd": ratio,
               "paired_ratio_min": min(paired) if paired else None,
               "paired_ratio_median": statistics.median(paired) if paired else None,
               "generator_idle_median": idle}
        rows.append(row)
        cyc = f"{min(cp):.0f} / {statistics.median(cp):.0f}" if cp else "-"
        rat = f"{ratio:.2f}" if ratio is not None else "-"
        pair = f"{min(paired):.2f} / {statistics.median(paired):.2f}" if paired else "-"
        print(f"| {c[0]} | {c[1] or '-'} | {'yes' if c[2] else 'no'} | "
              f"{min(mp):.2f} / {statistics.median(mp):.2f} | {cyc} | {rat} | {pair} | "
              f"{100 * idle:.0f} % |")
        if idle < 0.9:
            print(f"  (the generator was busy {100 * (1 - idle):.0f} % of its polls: this "
                  f"forwarder was not the only bottleneck, its Mpps understates it)")
    failed = [c for c in configs if not any(x["mpps"] > 0 for x in results[c])]
    for c in failed:
        print(f"FAILED: {c[0]} {c[1]} {'encap' if c[2] else 'plain'}: no run forwarded traffic")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"rows": rows, "seconds": a.seconds, "runs": a.runs}, f, indent=1)
        print(f"JSON written to {a.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
