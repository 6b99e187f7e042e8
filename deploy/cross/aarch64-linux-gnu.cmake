# CMake toolchain file: Debian 12's aarch64 cross compiler (crossbuild-essential-arm64) building
# against a Debian 12 arm64 sysroot (deploy/cross/make-sysroot.sh).
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=deploy/cross/aarch64-linux-gnu.cmake \
#         -DNICSWITCH_SYSROOT=/var/cache/nicswitch/sysroot-arm64
# The sysroot comes from the cache variable NICSWITCH_SYSROOT, else the environment variable of
# the same name, else /var/cache/nicswitch/sysroot-arm64 (make-sysroot.sh's default).
# Libraries, headers and CMake packages are looked up only in the sysroot; programs (protoc,
# grpc_cpp_plugin) only on the build host. Tests run under qemu-aarch64-static (qemu-user).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

if(NOT NICSWITCH_SYSROOT)
  if(DEFINED ENV{NICSWITCH_SYSROOT} AND NOT "$ENV{NICSWITCH_SYSROOT}" STREQUAL "")
    set(NICSWITCH_SYSROOT "$ENV{NICSWITCH_SYSROOT}")
  else()
    set(NICSWITCH_SYSROOT /var/cache/nicswitch/sysroot-arm64)
  endif()
endif()
set(NICSWITCH_SYSROOT "${NICSWITCH_SYSROOT}" CACHE PATH "Debian 12 arm64 sysroot")
if(NOT EXISTS "${NICSWITCH_SYSROOT}/usr/include")
  message(FATAL_ERROR "No sysroot at ${NICSWITCH_SYSROOT}: run deploy/cross/make-sysroot.sh")
endif()
# try_compile projects re-read this file; hand them the same sysroot.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES NICSWITCH_SYSROOT)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_SYSROOT "${NICSWITCH_SYSROOT}")

set(CMAKE_FIND_ROOT_PATH "${NICSWITCH_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (DPDK) reads only the sysroot's .pc files and prefixes their paths with it.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${NICSWITCH_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${NICSWITCH_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${NICSWITCH_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# ctest and gtest_discover_tests run the arm64 binaries under qemu-user; -L makes the dynamic
# loader, the shared libraries and EAL's PMD plugins (absolute paths) come from the sysroot.
find_program(NICSWITCH_QEMU_AARCH64 qemu-aarch64-static)
if(NICSWITCH_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${NICSWITCH_QEMU_AARCH64};-L;${NICSWITCH_SYSROOT}")
endif()

# CPack's DEB generator would otherwise ask dpkg of the build host (amd64).
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
