#!/usr/bin/env bash
# Tests deploy/flash-agent.sh against a fake target: a directory whose dpkg, apt-get, systemctl,
# nicswitchctl and rm are shims that record every call and keep the target's state in files
# (installed, running), reached through a fake `chroot` (--target-root) or fake ssh/scp (--host)
# placed first in PATH. No network, no root, no real package manager.
#   flash_agent_test.sh <case>   cases: dry_run arch_mismatch bad_package install_chroot
#                                       install_ssh_dpkg api_timeout install_fails no_ctl
set -euo pipefail
CASE=${1:?case}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FLASH=$ROOT/deploy/flash-agent.sh
T=$(mktemp -d /tmp/nsw-flash-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
TARGET=$T/target
CALLS=$T/calls.log
mkdir -p "$TARGET/tmp" "$TARGET/fakebin" "$T/hostbin"
: > "$CALLS"
export CALLS

fail() { echo "FAIL ($CASE): $*" >&2; echo "--- calls:" >&2; cat "$CALLS" >&2; exit 1; }

# --- the fake target's commands (FAKE_ROOT is the target directory) ---
shim() {  # shim <name> <body>: records the call, then runs body with the real tools in PATH
  printf '#!/bin/sh\necho "$(basename "$0") $*" >> "$CALLS"\nPATH=/usr/bin:/bin\n%s\n' "$2" \
    > "$TARGET/fakebin/$1"
  chmod +x "$TARGET/fakebin/$1"
}
shim dpkg '
case "$1" in
  --print-architecture) echo "${FAKE_ARCH:-amd64}" ;;
  -i) [ -f "$FAKE_ROOT$2" ] || exit 1; dpkg-deb -f "$FAKE_ROOT$2" Version > "$FAKE_ROOT/installed" ;;
  *) exit 2 ;;
esac'
shim apt-get '
eval "deb=\${$#}"
[ "$1" = install ] && [ -f "$FAKE_ROOT$deb" ] || exit 100
[ "${FAKE_APT_RC:-0}" = 0 ] || exit "$FAKE_APT_RC"
dpkg-deb -f "$FAKE_ROOT$deb" Version > "$FAKE_ROOT/installed"'
shim systemctl '
case "$1" in
  is-active) [ -f "$FAKE_ROOT/running" ] ;;
  stop) rm -f "$FAKE_ROOT/running" ;;
  start|restart) touch "$FAKE_ROOT/running" ;;
  daemon-reload|enable|status) : ;;
  *) exit 2 ;;
esac'
shim nicswitchctl '
[ -f "$FAKE_ROOT/running" ] && [ -z "${FAKE_API_DOWN:-}" ] || { echo "UNAVAILABLE" >&2; exit 9; }
printf "desired_revision 1\nversion nicswitch %s\n" "$(cat "$FAKE_ROOT/installed")"'
shim rm 'for a in "$@"; do case "$a" in -*) ;; *) rm -f "$FAKE_ROOT$a" ;; esac; done'
# --- ways in: chroot (--target-root) and ssh/scp (--host) ---
cat > "$T/hostbin/chroot" <<'SH'
#!/bin/sh
echo "chroot $*" >> "$CALLS.transport"
root=$1; shift
FAKE_ROOT=$root PATH=$root/fakebin:/usr/bin:/bin exec "$@"
SH
cat > "$T/hostbin/ssh" <<SH
#!/bin/sh
echo "ssh \$*" >> "\$CALLS.transport"
eval "cmd=\\\${\$#}"
FAKE_ROOT=$TARGET PATH=$TARGET/fakebin:/usr/bin:/bin exec sh -c "\$cmd"
SH
cat > "$T/hostbin/scp" <<SH
#!/bin/sh
echo "scp \$*" >> "\$CALLS.transport"
eval "dest=\\\${\$#}"
n=\$((\$# - 1)); eval "src=\\\${\$n}"
/bin/cp "\$src" "$TARGET\${dest#*:}"
SH
chmod +x "$T/hostbin/"*
export PATH=$T/hostbin:$PATH

make_deb() {  # make_deb <file> <package> <arch>
  local d=$T/debsrc-$2-$3
  mkdir -p "$d/DEBIAN" "$d/usr/bin"
  printf 'Package: %s\nVersion: 9.9-1\nArchitecture: %s\nMaintainer: test <t@localhost>\nDescription: fake\n' \
    "$2" "$3" > "$d/DEBIAN/control"
  dpkg-deb --root-owner-group -b "$d" "$1" > /dev/null
}
make_deb "$T/agent-amd64.deb" nicswitch-agent amd64
make_deb "$T/agent-arm64.deb" nicswitch-agent arm64
make_deb "$T/ctl-amd64.deb" nicswitchctl amd64

run() {  # run <args...>: sets RC, OUT (stdout+stderr)
  RC=0
  OUT=$("$FLASH" "$@" 2>&1) || RC=$?
  printf '%s\n' "$OUT" | sed 's/^/  | /'
}
expect() { grep -qF -- "$1" <<< "$OUT" || fail "output lacks: $1"; }
calls() { cut -d' ' -f1-2 "$CALLS" | tr '\n' ';'; }
leftover_copy() { [ -n "$(find "$TARGET/tmp" -mindepth 1 -print -quit)" ]; }

case "$CASE" in
  dry_run)
    touch "$TARGET/running"
    run --target-root "$TARGET" --dry-run "$T/agent-amd64.deb"
    [ "$RC" = 0 ] || fail "exit $RC"
    for want in "dpkg --print-architecture" "cp $T/agent-amd64.deb $TARGET/tmp/nicswitch-flash-" \
                "systemctl stop nicswitch-agent.service" "apt-get install -y --no-install-recommends" \
                "systemctl restart nicswitch-agent.service" "nicswitchctl -s unix:/run/nicswitch/api.sock status"; do
      expect "$want"
    done
    [ ! -s "$CALLS" ] && [ ! -e "$CALLS.transport" ] || fail "dry run ran something on the target"
    ! leftover_copy || fail "dry run copied the package"
    [ -f "$TARGET/running" ] && [ ! -e "$TARGET/installed" ] || fail "dry run changed the target"
    ;;
  arch_mismatch)
    touch "$TARGET/running"
    run --target-root "$TARGET" "$T/agent-arm64.deb"
    [ "$RC" = 2 ] || fail "exit $RC, want 2"
    expect "architecture mismatch: the package is arm64, $TARGET (chroot) is amd64"
    [ "$(calls)" = "dpkg --print-architecture;" ] || fail "calls: $(calls)"
    [ -f "$TARGET/running" ] && [ ! -e "$TARGET/installed" ] || fail "the target was changed"
    ! leftover_copy || fail "the package was copied"
    ;;
  bad_package)
    run --target-root "$TARGET" "$T/no-such.deb"
    [ "$RC" = 2 ] || fail "missing file: exit $RC"; expect "package $T/no-such.deb does not exist"
    echo "not a deb" > "$T/junk.deb"
    run --target-root "$TARGET" "$T/junk.deb"
    [ "$RC" = 2 ] || fail "junk file: exit $RC"; expect "is not a Debian package"
    run --target-root "$TARGET" "$T/ctl-amd64.deb"
    [ "$RC" = 2 ] || fail "other package: exit $RC"; expect "is the package 'nicswitchctl', not nicswitch-agent"
    run --target-root "$TARGET/nope" "$T/agent-amd64.deb"
    [ "$RC" = 2 ] || fail "bad root: exit $RC"; expect "is not a directory"
    run "$T/agent-amd64.deb"
    [ "$RC" = 2 ] || fail "no target: exit $RC"; expect "no target"
    [ ! -s "$CALLS" ] || fail "a refused package reached the target"
    ;;
  install_chroot)
    touch "$TARGET/running"
    run --target-root "$TARGET" --timeout 10 "$T/agent-amd64.deb"
    [ "$RC" = 0 ] || fail "exit $RC"
    want="dpkg --print-architecture;systemctl is-active;systemctl stop;apt-get install;rm -f;systemctl daemon-reload;systemctl enable;systemctl restart;nicswitchctl -s;"
    [ "$(calls)" = "$want" ] || fail "calls: $(calls), want $want"
    [ "$(cat "$TARGET/installed")" = 9.9-1 ] || fail "the package was not installed"
    [ -f "$TARGET/running" ] || fail "the agent is not running"
    ! leftover_copy || fail "the copied package was left on the target"
    expect "version nicswitch 9.9-1"
    grep -q "^chroot $TARGET sh -c" "$CALLS.transport" || fail "not run through chroot"
    ;;
  install_ssh_dpkg)
    run --host root@soc --installer dpkg --timeout 10 "$T/agent-amd64.deb"
    [ "$RC" = 0 ] || fail "exit $RC"
    want="dpkg --print-architecture;systemctl is-active;dpkg -i;rm -f;systemctl daemon-reload;systemctl enable;systemctl restart;nicswitchctl -s;"
    [ "$(calls)" = "$want" ] || fail "calls: $(calls), want $want"
    [ "$(cat "$TARGET/installed")" = 9.9-1 ] || fail "the package was not installed"
    grep -q "^scp .* $T/agent-amd64.deb root@soc:/tmp/nicswitch-flash-" "$CALLS.transport" || fail "no scp"
    grep -q "^ssh .*BatchMode=yes.* root@soc " "$CALLS.transport" || fail "no ssh"
    ! leftover_copy || fail "the copied package was left on the target"
    ;;
  api_timeout)
    export FAKE_API_DOWN=1
    t0=$SECONDS
    run --target-root "$TARGET" --timeout 2 "$T/agent-amd64.deb"
    [ "$RC" = 1 ] || fail "exit $RC, want 1"
    expect "the agent's API (unix:/run/nicswitch/api.sock) did not answer within 2 s"
    [ $((SECONDS - t0)) -ge 2 ] && [ $((SECONDS - t0)) -lt 15 ] || fail "took $((SECONDS - t0)) s"
    ;;
  install_fails)
    touch "$TARGET/running"
    export FAKE_APT_RC=100
    run --target-root "$TARGET" "$T/agent-amd64.deb"
    [ "$RC" = 1 ] || fail "exit $RC, want 1"
    expect "installing the package on $TARGET (chroot) failed"
    ! grep -q "systemctl restart" "$CALLS" || fail "started after a failed install"
    ! leftover_copy || fail "the copied package was left on the target"
    ;;
  no_ctl)
    rm "$TARGET/fakebin/nicswitchctl"
    run --target-root "$TARGET" --timeout 30 "$T/agent-amd64.deb"
    [ "$RC" = 1 ] || fail "exit $RC, want 1"
    expect "nicswitchctl is not installed on $TARGET (chroot)"
    ;;
  *) fail "unknown case" ;;
esac
echo "PASS ($CASE)"
