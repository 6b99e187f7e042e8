#!/usr/bin/env bash
# Cross builds nicswitch for the SmartNIC's SoC (arm64, Debian 12) and runs the unit tests under
# qemu-aarch64 (qemu-user-static). Not part of ctest/CI: a script of its own.
#   BUILD_DIR          build directory (default: build-arm64)
#   NICSWITCH_SYSROOT  arm64 sysroot (default: /var/cache/nicswitch/sysroot-arm64, made once)
#   JOBS               parallel compile jobs (default: 2), run under nice -n 10
#   CTEST_JOBS         parallel test processes (default: 2)
#   WERROR             ON to build with -Werror (default: OFF: g++ 12 reports -Warray-bounds false
#                      positives in libstdc++'s inlined vector::insert, e.g. tests' packet_util.h)
# Prints how long each phase took; ends with ctest's summary and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

BUILD_DIR=${BUILD_DIR:-build-arm64}
export NICSWITCH_SYSROOT=${NICSWITCH_SYSROOT:-/var/cache/nicswitch/sysroot-arm64}
JOBS=${JOBS:-2}
CTEST_JOBS=${CTEST_JOBS:-2}
WERROR=${WERROR:-OFF}

timings=()
phase_start=0
phase() {  # phase <name>: starts timing a phase (and ends the previous one)
  phase_end
  phase_name=$1
  phase_start=$(date +%s)
  echo "=== arm64: $phase_name"
}
phase_end() {
  if [ "$phase_start" -ne 0 ]; then
    timings+=("$(printf '%-10s %4ds' "$phase_name" $(($(date +%s) - phase_start)))")
  fi
  phase_start=0
}
report() {
  phase_end
  echo "=== arm64: phase times"
  printf '  %s\n' "${timings[@]}"
}
trap report EXIT

phase host-deps
# The cross compiler, qemu-user and debootstrap, plus the host's own code generators (protoc and
# grpc_cpp_plugin run on the build host; same protobuf 3.21 as the sysroot's library).
HOST_PACKAGES=(crossbuild-essential-arm64 qemu-user-static debootstrap file
               cmake ninja-build pkg-config protobuf-compiler protobuf-compiler-grpc)
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "arm64: installing ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

phase sysroot
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO env NICSWITCH_SYSROOT="$NICSWITCH_SYSROOT" nice -n 10 deploy/cross/make-sysroot.sh

phase configure
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
# No fuzz targets as libFuzzer binaries (that needs clang); they are built as corpus replayers.
cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/deploy/cross/aarch64-linux-gnu.cmake" \
  -DNICSWITCH_SYSROOT="$NICSWITCH_SYSROOT" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNICSWITCH_WERROR="$WERROR" -DNICSWITCH_FUZZ=OFF \
  "${launcher[@]}"

phase build
nice -n 10 cmake --build "$BUILD_DIR" -j "$JOBS"
agent="$BUILD_DIR/soc_agent/agent/nicswitch-agent"
file "$agent"
if ! file -L "$agent" | grep -q "ARM aarch64"; then
  echo "arm64: $agent is not an arm64 binary" >&2
  exit 1
fi

phase tests
# Every gtest binary, fuzz corpus replayer and the API benchmark smoke run under qemu-aarch64
# (CMAKE_CROSSCOMPILING_EMULATOR), DPDK ones included (ring/null vdevs, --no-huge --no-pci).
# Left out, because qemu-user runs only the process it was started with: tests that execute
# an arm64 binary themselves (exec/popen of nicswitch-agent, -relay, -traffic, nicswitchctl,
# policyd, the crash writer) fail with ENOEXEC on a host without binfmt_misc; and tests that
# run no arm64 code at all (the e2e shell scenarios, the host's dpdk-testpmd golden check), and
# the packaging tests (host scripts that run the built binaries and host .debs).
EXCLUDE_LABELS='^(e2e|integration|packaging)$'
EXCLUDE_TESTS=(
  'AgentBinaryTest\.'                    # execs nicswitch-agent
  'NicswitchctlTest\.'                   # popen()s nicswitchctl
  'RelayConfigTest\.HelpDocuments'       # popen()s nicswitch-relay --help
  'PolicyStoreCrashTest\.'               # execs policy_crash_writer
  'PythonClientTest\.'                   # host python3 execs nicswitch-policyd
  'CapabilityStatusTest\.'               # popen()s nicswitchctl
  'AgentProbeBinaryTest\.'               # execs nicswitch-agent
  '^flowrules_testpmd_accepts_golden$'   # the host's dpdk-testpmd, no arm64 code
)
# Slower under qemu than their native TIMEOUT allows (two busy-polling emulated lcores waiting on
# RCU grace periods: 0.6 s natively, ~100 s under qemu here): run first, alone, with a longer bound.
SLOW_TESTS=(
  'tests/soc_agent/device/softasic_test:SoftAsicLcoreTest.RemovingRulesWhileTrafficFlowsLosesNoPacketOfOtherRules'
)
for t in "${SLOW_TESTS[@]}"; do
  EXCLUDE_TESTS+=("${t#*:}")
done
exclude_regex=$(IFS='|'; echo "${EXCLUDE_TESTS[*]}")
cd "$BUILD_DIR"
for t in "${SLOW_TESTS[@]}"; do
  echo "slow under qemu, run alone (up to 300 s): ${t#*:}"
  timeout 300 qemu-aarch64-static -L "$NICSWITCH_SYSROOT" "${t%%:*}" --gtest_filter="${t#*:}" \
    --gtest_brief=1 || { echo "FAILED: ${t#*:}"; exit 1; }
done
# until-pass:2: under a loaded host, qemu-user occasionally hung a test process that passes in
# well under a second (seen on pure parsing tests, not reproducible in 35 direct runs).
ctest --output-on-failure -j "$CTEST_JOBS" -LE "$EXCLUDE_LABELS" -E "$exclude_regex" \
  --repeat until-pass:2
