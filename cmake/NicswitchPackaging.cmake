# Debian packages (CPack DEB, one package per install component):
#   agent -> nicswitch-agent   /usr/bin/nicswitch-agent, nicswitch-agent.service,
#                              /etc/nicswitch/agent.textproto (conffile), state in /var/lib/nicswitch
#   relay -> nicswitch-relay   /usr/bin/nicswitch-relay, nicswitch-relay@.service,
#                              /etc/nicswitch/relay/example.textproto (conffile)
#   ctl   -> nicswitchctl      /usr/bin/nicswitchctl
# Build them with `cmake --build build --target package` (or `cd build && cpack -G DEB`).
# The binaries' install() rules live next to their targets; this file installs what belongs to
# no target (units, configs) and configures CPack. Runtime dependencies come from dpkg-shlibdeps;
# a cross build (no dpkg database for the target's libraries) uses NICSWITCH_DEB_CROSS_DEPENDS.
include(GNUInstallDirs)

set(NICSWITCH_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/deploy/packaging)
set(NICSWITCH_SYSTEMD_DIR ${PROJECT_SOURCE_DIR}/deploy/systemd)
# Debian 12 ships units in /lib/systemd/system (usrmerge makes it /usr/lib/systemd/system too).
set(NICSWITCH_SYSTEMD_UNIT_DIR /lib/systemd/system CACHE PATH "Where the .deb puts systemd units")

install(FILES ${NICSWITCH_SYSTEMD_DIR}/nicswitch-agent.service
        DESTINATION ${NICSWITCH_SYSTEMD_UNIT_DIR} COMPONENT agent)
install(FILES ${NICSWITCH_PACKAGING_DIR}/agent.textproto DESTINATION /etc/nicswitch COMPONENT agent)
install(FILES ${NICSWITCH_SYSTEMD_DIR}/nicswitch-relay@.service
        DESTINATION ${NICSWITCH_SYSTEMD_UNIT_DIR} COMPONENT relay)
install(FILES ${NICSWITCH_PACKAGING_DIR}/relay-example.textproto
        DESTINATION /etc/nicswitch/relay RENAME example.textproto COMPONENT relay)

foreach(component agent relay ctl)
  if(component STREQUAL "ctl")
    set(package nicswitchctl)
  else()
    set(package nicswitch-${component})
  endif()
  install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${package}
          COMPONENT ${component})
endforeach()

# Debian architecture from the target processor, so that a cross build (wt-cross sets
# CMAKE_SYSTEM_PROCESSOR=aarch64) produces arm64 packages on an amd64 machine.
string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _nicswitch_processor)
if(_nicswitch_processor MATCHES "^(x86_64|amd64)$")
  set(_nicswitch_deb_arch amd64)
elseif(_nicswitch_processor MATCHES "^(aarch64|arm64)$")
  set(_nicswitch_deb_arch arm64)
else()
  set(_nicswitch_deb_arch ${_nicswitch_processor})
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL agent relay ctl)
set(CPACK_PACKAGE_NAME nicswitch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "nicswitch")
set(CPACK_PACKAGE_CONTACT "nicswitch maintainers <nicswitch@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${_nicswitch_deb_arch})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME nicswitch-agent)
set(CPACK_DEBIAN_RELAY_PACKAGE_NAME nicswitch-relay)
set(CPACK_DEBIAN_CTL_PACKAGE_NAME nicswitchctl)
set(CPACK_COMPONENT_AGENT_DESCRIPTION
    "nicswitch SmartNIC agent\n The SoC daemon of the nicswitch virtual switch: slow path, flow\n manager, gRPC policy API; forwards on a SmartNIC through rte_flow or on softasic.")
set(CPACK_COMPONENT_RELAY_DESCRIPTION
    "nicswitch per-VM relay\n vhost-user backend (DPDK rte_vhost) between a VM's virtio-net queues and a VF,\n with zero-copy RX and TX. One instance per VM: nicswitch-relay@<vm>.service.")
set(CPACK_COMPONENT_CTL_DESCRIPTION
    "nicswitch command line\n nicswitchctl talks to nicswitch-agent's gRPC policy API.")
# DPDK drivers are plugins EAL loads from its PMD directory at run time, invisible to
# dpkg-shlibdeps: every mempool needs the ring mempool driver, and the shipped example configs use
# net_memif ports. The dpdk package brings the tools (dpdk-devbind.py, dpdk-hugepages.py) and the
# hardware PMDs (mlx5, i40e, ...). The relay runs next to a host's VMs and the CLI anywhere: no
# dependency between the three.
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "librte-mempool-ring23, librte-net-memif23")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "nicswitchctl, dpdk")
set(CPACK_DEBIAN_RELAY_PACKAGE_DEPENDS "librte-mempool-ring23, librte-net-memif23")
set(CPACK_DEBIAN_RELAY_PACKAGE_RECOMMENDS "dpdk")

foreach(component agent relay)
  string(TOUPPER ${component} upper)
  set(scripts)
  foreach(script conffiles postinst prerm postrm)
    if(EXISTS ${NICSWITCH_PACKAGING_DIR}/debian/${component}/${script})
      list(APPEND scripts ${NICSWITCH_PACKAGING_DIR}/debian/${component}/${script})
    endif()
  endforeach()
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA "${scripts}")
endforeach()

# Runtime dependencies. dpkg-shlibdeps needs the target's libraries registered in a dpkg
# database, which a native build has; a cross build's sysroot (files only) has none, so there the
# libraries' package names (the same on every Debian architecture) are listed here.
# deploy/packaging/test-debs.sh checks that they name exactly what dpkg-shlibdeps finds natively
# (it reads ${CMAKE_BINARY_DIR}/packaging/cross-depends.txt).
set(_nicswitch_common_libs "libabsl20220623, libc6 (>= 2.34), libfmt9, libgcc-s1, libprotobuf32, libspdlog1.10-fmt9, libstdc++6")
set(_nicswitch_rte "librte-eal23, librte-ethdev23, librte-mbuf23, librte-mempool23, librte-telemetry23")
set(NICSWITCH_DEB_CROSS_DEPENDS_AGENT
    "${_nicswitch_common_libs}, libgrpc++1.51, libgrpc29, libsqlite3-0, ${_nicswitch_rte}, librte-bus-vdev23, librte-net-ring23, librte-rcu23, librte-ring23")
set(NICSWITCH_DEB_CROSS_DEPENDS_RELAY "${_nicswitch_common_libs}, ${_nicswitch_rte}, librte-vhost23")
set(NICSWITCH_DEB_CROSS_DEPENDS_CTL
    "${_nicswitch_common_libs}, libgrpc++1.51, libgrpc29, libc-ares2, libre2-9, libssl3, zlib1g")
file(WRITE ${CMAKE_BINARY_DIR}/packaging/cross-depends.txt
     "nicswitch-agent: ${NICSWITCH_DEB_CROSS_DEPENDS_AGENT}\n"
     "nicswitch-relay: ${NICSWITCH_DEB_CROSS_DEPENDS_RELAY}\n"
     "nicswitchctl: ${NICSWITCH_DEB_CROSS_DEPENDS_CTL}\n")
if(CMAKE_CROSSCOMPILING)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_CTL_PACKAGE_DEPENDS "${NICSWITCH_DEB_CROSS_DEPENDS_CTL}")
  foreach(upper AGENT RELAY)
    set(CPACK_DEBIAN_${upper}_PACKAGE_DEPENDS
        "${NICSWITCH_DEB_CROSS_DEPENDS_${upper}}, ${CPACK_DEBIAN_${upper}_PACKAGE_DEPENDS}")
  endforeach()
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
endif()

include(CPack)
