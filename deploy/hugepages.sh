#!/usr/bin/env bash
# Reserves N 2 MiB hugepages (default 512 = 1 GiB) and mounts hugetlbfs at /dev/hugepages.
# Harmless where not possible (no permission, a container without hugetlbfs): it says so and
# exits 0, and nicswitch processes fall back to --no-huge where they can.
set -u
want=${1:-512}
sysfs=/proc/sys/vm/nr_hugepages

if [ ! -w "$sysfs" ]; then
  echo "hugepages: cannot write $sysfs (not root?); continuing without reserving"
  exit 0
fi
have=$(cat "$sysfs")
if [ "$have" -lt "$want" ]; then
  echo "$want" > "$sysfs" 2>/dev/null || true
  have=$(cat "$sysfs")
fi
echo "hugepages: $have x 2 MiB reserved (asked for $want)"

if ! grep -qs " /dev/hugepages hugetlbfs " /proc/mounts; then
  mkdir -p /dev/hugepages
  if ! mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages 2>/dev/null; then
    echo "hugepages: could not mount hugetlbfs on /dev/hugepages; continuing"
  fi
fi
exit 0
