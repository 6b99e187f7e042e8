#!/usr/bin/env bash
# Installs a nicswitch-agent .deb onto a SmartNIC's SoC (or any Debian machine) and brings the
# agent back up:
#   1. checks the package (a nicswitch-agent .deb) and that the target's dpkg architecture is the
#      package's (an arm64 SoC takes the arm64 build, see deploy/cross/);
#   2. copies it to the target, stops the running agent, installs it (apt-get, which resolves
#      new dependencies, or dpkg -i for a target without a mirror), starts nicswitch-agent.service;
#   3. waits until the agent's gRPC API answers (`nicswitchctl status` on the target).
#
#   deploy/flash-agent.sh --host root@soc nicswitch-agent_0.1.0-1_arm64.deb
#   deploy/flash-agent.sh --host root@soc --dry-run nicswitch-agent_0.1.0-1_arm64.deb
#   deploy/flash-agent.sh --target-root /srv/soc-root nicswitch-agent_0.1.0-1_amd64.deb
#
# Options:
#   --host USER@HOST   the target, over ssh/scp (key authentication; SSH_OPTS adds options)
#   --target-root DIR  a local target: the same commands through `chroot DIR`
#   --dry-run          print every command it would run on the target and change nothing
#   --timeout SEC      how long to wait for the API after the start (default 60)
#   --api ADDR         the agent's API address on the target (default unix:/run/nicswitch/api.sock)
#   --installer apt|dpkg  apt-get install (default) or dpkg -i (dependencies already present)
# Exit codes: 0 installed and answering; 1 a step failed on the target; 2 usage or a refused
# package (wrong path, not a nicswitch-agent .deb, architecture mismatch).
set -euo pipefail

PROG=flash-agent
UNIT=nicswitch-agent.service
HOST="" TARGET_ROOT="" DRY_RUN=0 TIMEOUT=60 API=unix:/run/nicswitch/api.sock INSTALLER=apt PKG=""

usage() {  # usage <exit code>
  sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
  exit "$1"
}
die() {  # die <exit code> <message>
  echo "$PROG: error: $2" >&2
  exit "$1"
}
say() { echo "$PROG: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --host) HOST=${2:?--host needs USER@HOST}; shift 2 ;;
    --target-root) TARGET_ROOT=${2:?--target-root needs a directory}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --timeout) TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
    --api) API=${2:?--api needs an address}; shift 2 ;;
    --installer) INSTALLER=${2:?--installer needs apt or dpkg}; shift 2 ;;
    -h | --help) usage 0 ;;
    -*) echo "$PROG: unknown option $1" >&2; usage 2 ;;
    *) [ -z "$PKG" ] || die 2 "one package only (got $PKG and $1)"; PKG=$1; shift ;;
  esac
done
[ -n "$PKG" ] || { echo "$PROG: no package given" >&2; usage 2; }
if [ -n "$HOST" ] && [ -n "$TARGET_ROOT" ]; then die 2 "--host and --target-root exclude each other"; fi
[ -n "$HOST$TARGET_ROOT" ] || die 2 "no target: give --host USER@HOST or --target-root DIR"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die 2 "--timeout: '$TIMEOUT' is not a number of seconds"
case "$INSTALLER" in apt | dpkg) ;; *) die 2 "--installer: '$INSTALLER' is not apt or dpkg" ;; esac
if [ -n "$TARGET_ROOT" ] && [ ! -d "$TARGET_ROOT" ]; then
  die 2 "--target-root: $TARGET_ROOT is not a directory"
fi

# --- the package ------------------------------------------------------------------------------
[ -e "$PKG" ] || die 2 "package $PKG does not exist"
[ -f "$PKG" ] && [ -r "$PKG" ] || die 2 "package $PKG is not a readable file"
command -v dpkg-deb >/dev/null || die 2 "dpkg-deb is needed on this machine to read the package"
fields=$(dpkg-deb -f "$PKG" Package Architecture Version 2>/dev/null) \
  || die 2 "$PKG is not a Debian package (dpkg-deb cannot read it)"
pkg_name=$(sed -n 's/^Package: //p' <<< "$fields")
pkg_arch=$(sed -n 's/^Architecture: //p' <<< "$fields")
pkg_version=$(sed -n 's/^Version: //p' <<< "$fields")
[ "$pkg_name" = nicswitch-agent ] \
  || die 2 "$PKG is the package '$pkg_name', not nicswitch-agent"
say "package: $pkg_name $pkg_version ($pkg_arch) from $PKG"

# --- the target -------------------------------------------------------------------------------
REMOTE_DEB=/tmp/nicswitch-flash-$$.deb
if [ -n "$HOST" ]; then
  TARGET="$HOST (ssh)"
  # shellcheck disable=SC2206
  SSH=(ssh -o BatchMode=yes -o ConnectTimeout=10 ${SSH_OPTS:-})
  # shellcheck disable=SC2206
  SCP=(scp -q -o BatchMode=yes -o ConnectTimeout=10 ${SSH_OPTS:-})
  on_target_argv() { echo "${SSH[*]} $HOST '$1'"; }
  run_on_target() { "${SSH[@]}" "$HOST" "$1"; }
  copy_argv() { echo "${SCP[*]} $PKG $HOST:$REMOTE_DEB"; }
  copy_to_target() { "${SCP[@]}" "$PKG" "$HOST:$REMOTE_DEB"; }
else
  TARGET_ROOT=$(cd "$TARGET_ROOT" && pwd)
  TARGET="$TARGET_ROOT (chroot)"
  on_target_argv() { echo "chroot $TARGET_ROOT sh -c '$1'"; }
  run_on_target() { chroot "$TARGET_ROOT" sh -c "$1"; }
  copy_argv() { echo "cp $PKG $TARGET_ROOT$REMOTE_DEB"; }
  copy_to_target() { cp "$PKG" "$TARGET_ROOT$REMOTE_DEB"; }
fi

# step <description> <shell command run on the target>: prints it; runs it unless --dry-run.
step() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "  [dry-run] $1: $(on_target_argv "$2")"
    return 0
  fi
  say "$1"
  run_on_target "$2"
}

if [ "$DRY_RUN" = 1 ]; then
  say "dry run: nothing is changed on $TARGET; the plan:"
  echo "  [dry-run] check the target's architecture: $(on_target_argv 'dpkg --print-architecture')"
else
  say "target: $TARGET"
  target_arch=$(run_on_target 'dpkg --print-architecture') \
    || die 1 "cannot ask $TARGET for its architecture (dpkg --print-architecture failed)"
  target_arch=$(tr -d '[:space:]' <<< "$target_arch")
  if [ "$pkg_arch" != all ] && [ "$pkg_arch" != "$target_arch" ]; then
    die 2 "architecture mismatch: the package is $pkg_arch, $TARGET is $target_arch (build the $target_arch package: deploy/cross/ for arm64)"
  fi
  say "target architecture $target_arch matches"
fi

if [ "$INSTALLER" = apt ]; then
  install_cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $REMOTE_DEB"
else
  install_cmd="dpkg -i $REMOTE_DEB"
fi
cleanup_cmd="rm -f $REMOTE_DEB"

if [ "$DRY_RUN" = 1 ]; then
  echo "  [dry-run] copy the package: $(copy_argv)"
else
  say "copying the package to $TARGET:$REMOTE_DEB"
  copy_to_target || die 1 "copying $PKG to $TARGET failed"
fi
removed=0
remove_copy() {
  if [ "$DRY_RUN" = 0 ] && [ "$removed" = 0 ]; then
    removed=1
    run_on_target "$cleanup_cmd" || true
  fi
}
trap remove_copy EXIT

step "stopping the running agent" \
  "if systemctl is-active --quiet $UNIT; then systemctl stop $UNIT; fi" \
  || die 1 "stopping $UNIT on $TARGET failed"
step "installing $pkg_name $pkg_version" "$install_cmd" \
  || die 1 "installing the package on $TARGET failed ($install_cmd)"
step "removing the copied package" "$cleanup_cmd" && removed=1
step "starting the agent" "systemctl daemon-reload && systemctl enable $UNIT && systemctl restart $UNIT" \
  || die 1 "starting $UNIT on $TARGET failed: see 'systemctl status $UNIT' and 'journalctl -u $UNIT' there"

health="nicswitchctl -s $API status"
if [ "$DRY_RUN" = 1 ]; then
  echo "  [dry-run] wait up to $TIMEOUT s for the API: $(on_target_argv "$health")"
  say "dry run: done, nothing changed"
  exit 0
fi
run_on_target "command -v nicswitchctl > /dev/null" \
  || die 1 "nicswitchctl is not installed on $TARGET: the health check needs it (install the nicswitchctl package there)"
say "waiting up to $TIMEOUT s for the agent's API ($health)"
deadline=$((SECONDS + TIMEOUT))
while :; do
  if out=$(run_on_target "$health" 2>&1); then
    say "the agent answers:"
    grep -E '^(desired_revision|applied_revision|in_sync|version) ' <<< "$out" | sed 's/^/    /' || true
    say "done: $pkg_name $pkg_version runs on $TARGET"
    exit 0
  fi
  if [ $SECONDS -ge $deadline ]; then
    echo "$out" | tail -n 3 >&2
    if ! run_on_target "systemctl is-active --quiet $UNIT" 2>/dev/null; then
      echo "$PROG: $UNIT is not running on $TARGET:" >&2
      run_on_target "systemctl status --no-pager -n 20 $UNIT" >&2 || true
    fi
    die 1 "the agent's API ($API) did not answer within $TIMEOUT s"
  fi
  sleep 1
done
