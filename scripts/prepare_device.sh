#!/usr/bin/env bash
# Run on THIS (build) machine before a GPU session: puts what the GPU machine lacks into the
# git-ignored folder .device/ so that it travels with the working tree (carry ".device"):
#   .device/lib/libcjson.so.1*   the cJSON runtime library (the GPU image has no cJSON)
#   .device/include/cjson/       its headers, for a rebuild there if the carried binaries are missing
# Then build the binaries to carry: make train_gpt2cu test_gpt2cu (sm_80 + sm_90).
# Usage: scripts/prepare_device.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/prepare_device.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download libcjson1 libcjson-dev >/dev/null 2>&1) ||
  { echo "prepare_device: error: apt-get download libcjson1 libcjson-dev failed (run apt-get update first)" >&2; exit 1; }
mkdir -p "$work/root" .device/lib .device/include
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
cp -L "$work"/root/usr/lib/x86_64-linux-gnu/libcjson.so* .device/lib/
cp -a "$work"/root/usr/include/cjson .device/include/
echo "prepare_device: .device/lib: $(ls .device/lib | tr '\n' ' ')"
echo "prepare_device: now run make and make -C dev/cuda, then carry .device, train_gpt2cu, test_gpt2cu, build/libllmc_portable.a and build/dev_cuda"
