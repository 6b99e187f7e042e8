#!/usr/bin/env python3
"""Prints what systemd would run for a service unit, for running it where there is no systemd.

  unit-commands.py UNIT_FILE [INSTANCE]

One line per item, in order, each a tag and a shell-quoted value:
  pre <command line>        each ExecStartPre= (its "-" prefix: failure ignored -> "pre-")
  start <command line>      ExecStart=
  runtime-dir <dir>         each RuntimeDirectory= entry (relative to /run)
  state-dir <dir>           each StateDirectory= entry (relative to /var/lib)
  kill-signal <SIG>         KillSignal= (default SIGTERM)
  stop-timeout <seconds>    TimeoutStopSec= (default 90)
Specifiers %i, %I, %n, %N, %p, %% are expanded; command lines are split the way systemd splits
them (shell-like quoting, no shell). Only what nicswitch's units use is supported; anything
else in [Service] that changes how the command runs is an error, so the caller never silently
runs something different from what systemd would.
"""
import os
import shlex
import sys

# Directives that do not change the command line or its files; systemd enforces them and the
# chroot test cannot (hardening, restart policy) or does not need to.
IGNORED = {
    "Type", "Restart", "RestartSec", "TimeoutStopSec", "KillSignal", "UMask",
    "StateDirectoryMode", "RuntimeDirectoryMode", "RuntimeDirectoryPreserve", "LimitMEMLOCK",
    "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "ProtectControlGroups",
    "ProtectKernelModules", "ProtectKernelLogs", "ProtectHostname",
    "LockPersonality", "RestrictRealtime", "RestrictSUIDSGID", "SystemCallArchitectures",
}


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = sys.argv[1]
    instance = sys.argv[2] if len(sys.argv) == 3 else ""
    name = os.path.basename(path)
    if instance:
        if "@." not in name:
            sys.exit(f"{name}: an instance was given but this is not a template unit")
        name = name.replace("@.", f"@{instance}.")
    prefix = name.split("@")[0].rsplit(".", 1)[0]
    spec = {"i": instance, "I": instance, "n": name, "N": name.rsplit(".", 1)[0], "p": prefix,
            "%": "%"}

    def expand(value):
        out, i = [], 0
        while i < len(value):
            if value[i] == "%" and i + 1 < len(value):
                key = value[i + 1]
                if key not in spec:
                    sys.exit(f"{path}: unsupported specifier %{key}")
                out.append(spec[key])
                i += 2
            else:
                out.append(value[i])
                i += 1
        return "".join(out)

    section, items = None, []
    kill_signal, stop_timeout = "SIGTERM", "90"
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section != "Service":
                continue
            key, sep, value = line.partition("=")
            if not sep:
                sys.exit(f"{path}:{lineno}: not a Key=Value line")
            key, value = key.strip(), expand(value.strip())
            if key in ("ExecStartPre", "ExecStart"):
                tag = "pre" if key == "ExecStartPre" else "start"
                while value[:1] in ("-", "@", "+", "!", ":"):
                    if value[0] != "-":
                        sys.exit(f"{path}:{lineno}: prefix {value[0]} is not supported")
                    tag += "-" if tag == "pre" else ""
                    value = value[1:]
                argv = shlex.split(value)
                if not argv or not argv[0].startswith("/"):
                    sys.exit(f"{path}:{lineno}: {key} needs an absolute path")
                items.append((tag, shlex.join(argv)))
            elif key == "RuntimeDirectory":
                items += [("runtime-dir", shlex.quote(d)) for d in value.split()]
            elif key == "StateDirectory":
                items += [("state-dir", shlex.quote(d)) for d in value.split()]
            elif key == "KillSignal":
                kill_signal = value
            elif key == "TimeoutStopSec":
                stop_timeout = value
            elif key not in IGNORED:
                sys.exit(f"{path}:{lineno}: {key}= is not supported by this runner")
    if sum(1 for tag, _ in items if tag == "start") != 1:
        sys.exit(f"{path}: needs exactly one ExecStart=")
    # Directories first: systemd makes them before ExecStartPre runs.
    items.sort(key=lambda item: 0 if item[0].endswith("-dir") else 1)
    for tag, value in items:
        print(tag, value)
    print("kill-signal", kill_signal)
    print("stop-timeout", stop_timeout)


if __name__ == "__main__":
    main()
