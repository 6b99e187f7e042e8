#!/usr/bin/env bash
# Installs the nicswitch .debs on a fresh Debian 12 and checks that they work and remove cleanly:
#   1. builds the binaries and the three packages (cpack) in BUILD_DIR;
#   2. makes a fresh Debian 12 minbase root (debootstrap; cached as a tarball under
#      NICSWITCH_PACKAGING_CACHE, default BUILD_DIR/packaging-cache, so only the first run
#      downloads it);
#   3. installs the three .debs with apt inside it (runtime dependencies from the mirror; the
#      downloaded .debs and apt lists are cached too);
#   4. starts nicswitch-agent.service and nicswitch-relay@example.service on softasic with the
#      shipped configs: there is no systemd in a chroot (and systemd-nspawn does not run in every
#      sandbox), so each unit's RuntimeDirectory/StateDirectory, ExecStartPre and ExecStart are read
#      from the INSTALLED unit files (deploy/packaging/unit-commands.py) and run inside the chroot;
#   5. checks that `nicswitchctl status` answers and that the relay's VF link comes up;
#   6. stops them with the units' KillSignal, then removes and purges the packages and checks that
#      no file of them, no state directory and no runtime file remains;
#   7. installs the agent again with deploy/flash-agent.sh --target-root (stop, install, start,
#      health check for real; a systemctl stand-in runs the unit's commands), then purges it.
# Exits non-zero on the first failure; unmounts and deletes everything it made (trap).
#
#   deploy/packaging/test-debs.sh            BUILD_DIR=build, needs root, debootstrap, network to
#                                            the Debian mirror (NICSWITCH_DEBIAN_MIRROR)
#   KEEP_ROOT=1 deploy/packaging/test-debs.sh  keeps the root (to look around) when it passes
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
MIRROR=${NICSWITCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${NICSWITCH_PACKAGING_CACHE:-$BUILD_DIR/packaging-cache}
BASE_TAR=$CACHE/bookworm-amd64-minbase.tar
DEBS=$BUILD_DIR/packaging/debs
START=$SECONDS

phase() { printf '\n== [%3ds] %s\n' $((SECONDS - START)) "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() {
  printf 'test-debs: FAIL: %s\n' "$*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || { echo "test-debs: SKIP: needs root (debootstrap, chroot, mount)"; exit 77; }
for tool in debootstrap chroot cpack dpkg-deb python3 findmnt; do
  command -v "$tool" >/dev/null || fail "$tool is missing (deploy/install-deps.sh installs it)"
done
[ "$(dpkg --print-architecture)" = amd64 ] || fail "the test root is amd64; run on amd64"
# Without the mirror nothing can be tested: say so and exit 77 (ctest's SKIP_RETURN_CODE).
if ! python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)' \
     "$MIRROR/dists/bookworm/Release" 2>/dev/null; then
  echo "test-debs: SKIP: the Debian mirror $MIRROR cannot be reached"
  exit 77
fi

ROOTFS=""
declare -A PIDS=()
cleanup() {
  local rc=$? name pid mnt
  for name in "${!PIDS[@]}"; do
    pid=${PIDS[$name]}
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$ROOTFS" ] && [ -d "$ROOTFS" ]; then
    # Anything else still running inside this run's private root was started by this run.
    for proc in /proc/[0-9]*; do
      [ "$(readlink "$proc/root" 2>/dev/null)" = "$ROOTFS" ] && kill -KILL "${proc#/proc/}" 2>/dev/null
    done
    sleep 0.2
    # Deepest first; lazily if something still holds a mount.
    for mnt in $(findmnt -rn -o TARGET | grep -F "$ROOTFS/" | sort -r); do
      umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
    done
    if findmnt -rn -o TARGET | grep -qF "$ROOTFS/"; then
      echo "test-debs: mounts remain under $ROOTFS; not deleting it" >&2
      rc=1
    elif [ "${KEEP_ROOT:-0}" = 1 ] && [ "$rc" = 0 ]; then
      echo "test-debs: kept $ROOTFS"
    else
      rm -rf --one-file-system "$ROOTFS"
    fi
  fi
  if [ "$rc" = 0 ]; then
    printf '\ntest-debs: PASS in %ds\n' $((SECONDS - START))
  else
    printf '\ntest-debs: FAILED (exit %d) after %ds\n' "$rc" $((SECONDS - START)) >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# systemd's PATH and an empty environment, as a unit's commands get.
ROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
in_root() { chroot "$ROOTFS" /usr/bin/env -i PATH=$ROOT_PATH LC_ALL=C "$@"; }

# ---------------------------------------------------------------------------------------------
phase "1. build the binaries and the .debs ($BUILD_DIR)"
[ -f "$BUILD_DIR/CMakeCache.txt" ] || fail "$BUILD_DIR is not configured (see README: Quick start)"
nice -n 10 cmake --build "$BUILD_DIR" --target nicswitch-agent nicswitch-relay nicswitchctl \
  | tail -n 1
rm -rf "$DEBS"
mkdir -p "$DEBS"
(cd "$BUILD_DIR" && nice -n 10 cpack -G DEB -B "$DEBS" > "$DEBS/cpack.log" 2>&1) \
  || { tail -n 20 "$DEBS/cpack.log"; fail "cpack failed"; }
declare -A DEB=()
for pkg in nicswitch-agent nicswitch-relay nicswitchctl; do
  DEB[$pkg]=$(ls "$DEBS"/"${pkg}"_*_amd64.deb 2>/dev/null | head -n 1)
  [ -n "${DEB[$pkg]}" ] || fail "cpack made no $pkg package"
  ok "$(basename "${DEB[$pkg]}") ($(du -k "${DEB[$pkg]}" | cut -f1) KiB): $(dpkg-deb -f "${DEB[$pkg]}" Depends | tr ',' '\n' | wc -l) dependencies"
done
# The cross build's hand-written dependency lists must name what dpkg-shlibdeps finds here.
names() { tr ',' '\n' | sed -e 's/(.*)//' -e 's/ //g' | grep -v '^$' | sort -u; }
while IFS=: read -r pkg list; do
  shlib=$(dpkg-deb -f "${DEB[$pkg]}" Depends | names)
  extra=$(dpkg-deb -f "${DEB[$pkg]}" Depends | names | comm -23 - <(echo "$list" | names) \
            | grep -v -e '^librte-mempool-ring23$' -e '^librte-net-memif23$' || true)
  missing=$(echo "$list" | names | comm -23 - <(echo "$shlib") || true)
  [ -z "$extra$missing" ] || fail "$pkg: cmake/NicswitchPackaging.cmake's cross dependency list is stale: dpkg-shlibdeps also needs [${extra//$'\n'/ }], the list also has [${missing//$'\n'/ }]"
done < "$BUILD_DIR/packaging/cross-depends.txt"
ok "cross-build dependency lists match dpkg-shlibdeps"

# ---------------------------------------------------------------------------------------------
phase "2. a fresh Debian 12 root"
mkdir -p "$CACHE/apt-archives/partial" "$CACHE/apt-lists/partial"
if [ ! -f "$BASE_TAR" ]; then
  echo "   no cached base: debootstrap bookworm (minbase) from $MIRROR (a few minutes, once)"
  tmp=$(mktemp -d "$CACHE/debootstrap.XXXXXX")
  ROOTFS=$tmp  # cleaned up by the trap if debootstrap fails
  nice -n 10 debootstrap --variant=minbase bookworm "$tmp" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CACHE/debootstrap.log"; fail "debootstrap failed"; }
  rm -rf "$tmp/var/cache/apt/archives/"*.deb
  tar -C "$tmp" -cf "$BASE_TAR.tmp" . && mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf --one-file-system "$tmp"
  ROOTFS=""
fi
ROOTFS=$(mktemp -d "$CACHE/root.XXXXXX")
tar -C "$ROOTFS" -xf "$BASE_TAR"
(cd "$ROOTFS" && find . -xdev -type d) > "$CACHE/base-dirs.txt"
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
# A throwaway root: dpkg need not fsync every file (on a busy disk that is most of the time).
echo force-unsafe-io > "$ROOTFS/etc/dpkg/dpkg.cfg.d/nicswitch-test-unsafe-io"
mount -t proc proc "$ROOTFS/proc"
mount -t sysfs -o ro sysfs "$ROOTFS/sys"
mount --bind /dev "$ROOTFS/dev"
mount -t tmpfs -o mode=0755 tmpfs "$ROOTFS/run"
mount --bind "$CACHE/apt-archives" "$ROOTFS/var/cache/apt/archives"
mount --bind "$CACHE/apt-lists" "$ROOTFS/var/lib/apt/lists"
mkdir -p "$ROOTFS/tmp/debs"
cp "${DEB[@]}" "$ROOTFS/tmp/debs/"
ok "fresh root $ROOTFS ($(grep -h PRETTY_NAME "$ROOTFS/etc/os-release" | cut -d'"' -f2))"

# ---------------------------------------------------------------------------------------------
phase "3. apt install the three packages (dependencies from $MIRROR)"
echo "deb $MIRROR bookworm main" > "$ROOTFS/etc/apt/sources.list"
t0=$SECONDS
in_root apt-get update -qq > "$CACHE/apt-update.log" 2>&1 \
  || { cat "$CACHE/apt-update.log"; fail "apt-get update in the root failed"; }
ok "apt-get update: $((SECONDS - t0)) s"
t0=$SECONDS
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "/tmp/debs/$(basename "${DEB[nicswitch-agent]}")" "/tmp/debs/$(basename "${DEB[nicswitch-relay]}")" \
  "/tmp/debs/$(basename "${DEB[nicswitchctl]}")" \
  > "$CACHE/apt-install.log" 2>&1 \
  || { tail -n 30 "$CACHE/apt-install.log"; fail "apt-get install of the .debs failed"; }
grep -E '^(Setting up nicswitch|[0-9]+ upgraded)' "$CACHE/apt-install.log" | sed 's/^/   /'
ok "apt-get install: $((SECONDS - t0)) s"
for pkg in nicswitch-agent nicswitch-relay nicswitchctl; do
  status=$(in_root dpkg-query -W -f='${Status} ${Version}' "$pkg")
  [[ "$status" == "install ok installed"* ]] || fail "$pkg: dpkg status is '$status'"
  in_root dpkg -L "$pkg" > "$CACHE/files-$pkg.txt"
done
cat "$CACHE"/files-*.txt | sort -u > "$CACHE/files-all.txt"
for f in /usr/bin/nicswitch-agent /usr/bin/nicswitch-relay /usr/bin/nicswitchctl \
         /lib/systemd/system/nicswitch-agent.service /lib/systemd/system/nicswitch-relay@.service \
         /etc/nicswitch/agent.textproto /etc/nicswitch/relay/example.textproto; do
  grep -qx "$f" "$CACHE/files-all.txt" || fail "dpkg -L lists no $f"
  [ -e "$ROOTFS$f" ] || fail "$f is not installed"
done
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' nicswitch-agent nicswitch-relay | awk 'NF {print $1}')
for f in /etc/nicswitch/agent.textproto /etc/nicswitch/relay/example.textproto; do
  grep -qx "$f" <<< "$conffiles" || fail "$f is not a conffile"
done
[ -d "$ROOTFS/var/lib/nicswitch" ] || fail "postinst made no /var/lib/nicswitch"
ok "installed: $(wc -l < "$CACHE/files-all.txt") paths, conffiles and /var/lib/nicswitch in place"

# ---------------------------------------------------------------------------------------------
# Runs a unit the way systemd would (commands read from the installed unit file).
declare -A KILL_SIGNAL=() STOP_TIMEOUT=()
start_unit() {  # start_unit <name> <unit file> [instance]
  local name=$1 unit=$ROOTFS/lib/systemd/system/$2 tag value plan
  plan=$(python3 "$ROOT/deploy/packaging/unit-commands.py" "$unit" ${3:+"$3"}) \
    || fail "cannot read $2"
  while read -r tag value; do
    eval "set -- $value"
    case "$tag" in
      runtime-dir) mkdir -p "$ROOTFS/run/$1" ;;
      state-dir) mkdir -p "$ROOTFS/var/lib/$1" ;;
      pre | pre-)
        echo "   ExecStartPre: $*"
        if ! in_root "$@" > "$CACHE/$name-pre.log" 2>&1; then
          cat "$CACHE/$name-pre.log"
          [ "$tag" = pre- ] || fail "$2: ExecStartPre failed"
        fi
        ;;
      start)
        echo "   ExecStart:    $*"
        # Not through in_root: a backgrounded function is a subshell, and $! must be the daemon.
        chroot "$ROOTFS" /usr/bin/env -i PATH=$ROOT_PATH LC_ALL=C "$@" \
          > "$CACHE/$name.log" 2>&1 &
        PIDS[$name]=$!
        ;;
      kill-signal) KILL_SIGNAL[$name]=$1 ;;
      stop-timeout) STOP_TIMEOUT[$name]=${1%s} ;;
    esac
  done <<< "$plan"
}
stop_unit() {  # stop_unit <name>: KillSignal, then waits TimeoutStopSec; fails on a non-zero exit
  local name=$1 pid=${PIDS[$1]} rc=0 t0=$SECONDS
  kill -s "${KILL_SIGNAL[$name]#SIG}" "$pid" 2>/dev/null || fail "$name is not running"
  for _ in $(seq $((${STOP_TIMEOUT[$name]} * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    tail -n 20 "$CACHE/$name.log"
    fail "$name did not stop within ${STOP_TIMEOUT[$name]} s of ${KILL_SIGNAL[$name]}"
  fi
  wait "$pid" || rc=$?
  unset "PIDS[$name]"
  [ "$rc" = 0 ] || { tail -n 20 "$CACHE/$name.log"; fail "$name exited with $rc"; }
  ok "$name stopped (exit 0, $((SECONDS - t0)) s)"
}
wait_for() {  # wait_for <what> <seconds> <name of the process that must stay alive> <command...>
  local what=$1 limit=$2 name=$3 deadline=$((SECONDS + $2)) tries=0
  shift 3
  while [ $SECONDS -lt $deadline ]; do
    tries=$((tries + 1))
    "$@" >> "$CACHE/wait.log" 2>&1 && return 0
    kill -0 "${PIDS[$name]}" 2>/dev/null || { tail -n 20 "$CACHE/$name.log"; fail "$name exited"; }
    sleep 0.2
  done
  tail -n 20 "$CACHE/$name.log" "$CACHE/wait.log"
  fail "timed out after $limit s ($tries tries) waiting for $what"
}

: > "$CACHE/wait.log"
phase "4. start nicswitch-agent.service and nicswitch-relay@example.service (softasic)"
start_unit agent nicswitch-agent.service
wait_for "the agent's API socket" 60 agent test -S "$ROOTFS/run/nicswitch/api.sock"
ok "agent serves unix:/run/nicswitch/api.sock"
start_unit relay nicswitch-relay@.service example
wait_for "the relay's vhost-user socket" 60 relay test -S "$ROOTFS/run/nicswitch/relay/example.sock"
ok "relay listens on /run/nicswitch/relay/example.sock"

# ---------------------------------------------------------------------------------------------
phase "5. nicswitchctl status against the agent; the relay's VF link"
in_root nicswitchctl status > "$CACHE/status.txt" 2>&1 \
  || { cat "$CACHE/status.txt"; fail "nicswitchctl status failed"; }
sed 's/^/   | /' "$CACHE/status.txt" | head -n 20
in_root nicswitchctl -o json status | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert int(s.get("desiredRevision", s.get("desired_revision", 0))) >= 1, s' \
  || fail "GetStatus shows no revision (the default underlay was not stored)"
ok "nicswitchctl status answers (the default underlay is in the store)"
# The relay's VF is the agent's softasic VF 0 (memif): its link is up once they are connected.
# Asked through the relay's DPDK telemetry socket (its --file-prefix is in the example config).
vf_link_up() {
  python3 - "$ROOTFS/run/dpdk/nicswitch-relay-example/dpdk_telemetry.v2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(2)
s.connect(sys.argv[1])
s.recv(4096)  # the greeting
s.send(b"/ethdev/link_status,0")
status = json.loads(s.recv(4096))["/ethdev/link_status"]["status"]
print("VF link", status)
sys.exit(0 if status == "UP" else 1)
PY
}
t0=$SECONDS
wait_for "the relay's VF (memif to the agent's VF 0) to come up" 60 relay vf_link_up
ok "relay's VF link is up after $((SECONDS - t0)) s (relay's ethdev telemetry: /ethdev/link_status,0)"
[ -f "$ROOTFS/var/lib/nicswitch/policy.db" ] || fail "no policy store in /var/lib/nicswitch"

# ---------------------------------------------------------------------------------------------
phase "6. stop, remove, purge"
stop_unit relay
stop_unit agent
[ ! -e "$ROOTFS/run/nicswitch/api.sock" ] || fail "the agent left its API socket"
t0=$SECONDS
in_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q \
  nicswitch-agent nicswitch-relay nicswitchctl > "$CACHE/apt-remove.log" 2>&1 \
  || { tail -n 20 "$CACHE/apt-remove.log"; fail "apt-get remove failed"; }
for f in /usr/bin/nicswitch-agent /usr/bin/nicswitch-relay /usr/bin/nicswitchctl \
         /lib/systemd/system/nicswitch-agent.service; do
  [ ! -e "$ROOTFS$f" ] || fail "$f remains after remove"
done
[ -f "$ROOTFS/etc/nicswitch/agent.textproto" ] || fail "remove deleted a conffile (only purge may)"
[ -f "$ROOTFS/var/lib/nicswitch/policy.db" ] || fail "remove deleted the policy store (only purge may)"
ok "removed in $((SECONDS - t0)) s: binaries and units gone; conffiles and the policy store kept"
t0=$SECONDS
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q \
  nicswitch-agent nicswitch-relay nicswitchctl > "$CACHE/apt-purge.log" 2>&1 \
  || { tail -n 20 "$CACHE/apt-purge.log"; fail "apt-get purge failed"; }
left=()
while read -r f; do
  [ -n "$f" ] || continue
  [ -e "$ROOTFS$f" ] || continue
  # A directory the fresh root already had (/usr/bin, /etc; /lib is /usr/lib) stays.
  real=$(realpath "$ROOTFS$f")
  if [ -d "$real" ] && grep -qxF ".${real#"$ROOTFS"}" "$CACHE/base-dirs.txt"; then
    continue
  fi
  left+=("$f")
done < "$CACHE/files-all.txt"
[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
for d in /var/lib/nicswitch /etc/nicswitch /run/nicswitch /run/dpdk/nicswitch-agent; do
  [ ! -e "$ROOTFS$d" ] || fail "$d remains after purge"
done
remaining=$(in_root dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null | grep -E '^nicswitch' || true)
[ -z "$remaining" ] || fail "dpkg still knows: $remaining"
ok "purged in $((SECONDS - t0)) s: none of the $(wc -l < "$CACHE/files-all.txt") paths, no /etc/nicswitch, /var/lib/nicswitch or /run/nicswitch remains"

# ---------------------------------------------------------------------------------------------
phase "7. deploy/flash-agent.sh --target-root onto the same root (a real local install)"
# The root has no systemd: a systemctl stand-in (/usr/local/sbin/systemctl) runs
# nicswitch-agent.service's commands, as read from the unit inside the package, so flash-agent's
# stop/install/start/health steps all run for real (apt, dpkg, the agent, nicswitchctl status).
unit_copy=$CACHE/flash-nicswitch-agent.service
dpkg-deb --fsys-tarfile "${DEB[nicswitch-agent]}" | tar -xO ./lib/systemd/system/nicswitch-agent.service \
  > "$unit_copy"
plan=$(python3 "$ROOT/deploy/packaging/unit-commands.py" "$unit_copy") || fail "cannot read the unit"
{
  echo '#!/bin/sh'
  echo '# Stand-in for systemctl in test-debs.sh: nicswitch-agent.service only.'
  echo 'PIDFILE=/run/nicswitch-agent.pid'
  echo 'running() { [ -f $PIDFILE ] && kill -0 "$(cat $PIDFILE)" 2>/dev/null; }'
  echo 'start() {'
  while read -r tag value; do
    case "$tag" in
      runtime-dir) echo "  mkdir -p /run/$value" ;;
      state-dir) echo "  mkdir -p /var/lib/$value" ;;
      pre) echo "  $value || return 1" ;;
      start) echo "  setsid $value > /var/log/nicswitch-agent.log 2>&1 < /dev/null & echo \$! > \$PIDFILE" ;;
    esac
  done <<< "$plan"
  echo '}'
  echo 'stop() {'
  echo '  running || return 0'
  echo "  kill -s $(sed -n 's/^kill-signal SIG//p' <<< "$plan") \"\$(cat \$PIDFILE)\""
  echo "  for i in \$(seq $(($(sed -n 's/^stop-timeout //p' <<< "$plan") * 10))); do running || break; sleep 0.1; done"
  echo '  ! running && rm -f $PIDFILE'
  echo '}'
  echo 'for last; do :; done'
  echo 'case "$last" in nicswitch-agent.service) ;; *) [ "$1" = daemon-reload ] && exit 0; exit 1 ;; esac'
  echo 'case "$1" in'
  echo '  is-active) running ;;'
  echo '  stop) stop ;;'
  echo '  start) running || start ;;'
  echo '  restart) stop && start ;;'
  echo '  enable|daemon-reload) : ;;'
  echo '  status) running && echo "active (pid $(cat $PIDFILE))" || { echo inactive; tail -n 20 /var/log/nicswitch-agent.log; exit 3; } ;;'
  echo '  *) exit 1 ;;'
  echo 'esac'
} > "$ROOTFS/usr/local/sbin/systemctl"
chmod 0755 "$ROOTFS/usr/local/sbin/systemctl"
# The health check runs nicswitchctl on the target (the agent only recommends it).
t0=$SECONDS
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
  "/tmp/debs/$(basename "${DEB[nicswitchctl]}")" > "$CACHE/apt-install2.log" 2>&1 \
  || { tail -n 20 "$CACHE/apt-install2.log"; fail "apt-get install nicswitchctl failed"; }
ok "nicswitchctl installed for the health check ($((SECONDS - t0)) s)"
t0=$SECONDS
"$ROOT/deploy/flash-agent.sh" --target-root "$ROOTFS" --timeout 60 "${DEB[nicswitch-agent]}" \
  2>&1 | sed 's/^/   | /'
[ "${PIPESTATUS[0]}" = 0 ] || fail "flash-agent.sh --target-root failed"
in_root nicswitchctl status > /dev/null 2>&1 || fail "the flashed agent does not answer"
[ "$(in_root dpkg-query -W -f='${Status}' nicswitch-agent)" = "install ok installed" ] \
  || fail "flash-agent did not install nicswitch-agent"
ls "$ROOTFS"/tmp/nicswitch-flash-* > /dev/null 2>&1 && fail "flash-agent left its copy of the package"
ok "flashed in $((SECONDS - t0)) s: installed, started, answering"
t0=$SECONDS
in_root systemctl stop nicswitch-agent.service || fail "the flashed agent did not stop"
in_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q nicswitch-agent nicswitchctl \
  > "$CACHE/apt-purge2.log" 2>&1 || { tail -n 20 "$CACHE/apt-purge2.log"; fail "purge failed"; }
for d in /usr/bin/nicswitch-agent /usr/bin/nicswitchctl /etc/nicswitch /var/lib/nicswitch; do
  [ ! -e "$ROOTFS$d" ] || fail "$d remains after purging the flashed agent"
done
ok "the flashed agent stopped and purged cleanly ($((SECONDS - t0)) s)"
