#!/usr/bin/env bash
# Installs what is needed, builds nicswitch and runs the whole test suite.
# Ends with ctest's summary; exits non-zero when anything fails.
#   BUILD_DIR   build directory (default: build)
#   JOBS        parallel build jobs (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

./deploy/install-deps.sh
./deploy/hugepages.sh 512

# clang, so that the fuzz targets are real libFuzzer binaries; -Werror as in CI.
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNICSWITCH_WERROR=ON -DNICSWITCH_FUZZ=ON
cmake --build "$BUILD_DIR" -j "$JOBS"

cd "$BUILD_DIR"
# Tests bound themselves (TIMEOUT per test); --timeout is the backstop.
ctest --output-on-failure -j 2 --timeout 900
