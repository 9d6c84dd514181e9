#!/usr/bin/env bash
# Install the Debian packages named on the command line that are missing. As root it runs
# apt-get; otherwise it prints the exact command to run and fails.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "installing missing packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null
  } || { echo "error: apt-get install ${missing[*]} failed (run it by hand to see why)" >&2; exit 1; }
else
  echo "error: missing packages: ${missing[*]}" >&2
  echo "run:   sudo apt-get install -y ${missing[*]}   then run make again" >&2
  exit 1
fi
