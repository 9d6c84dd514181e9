#!/usr/bin/env bash
# Run on THIS (build) machine before a GPU session: puts what the GPU machine lacks into the
# git-ignored folder .device/ so that it travels with the working tree (carry ".device"):
#   .device/lib/libcjson.so.1*   the cJSON runtime library (the GPU image has no cJSON)
#   .device/include/cjson/       its headers, for a rebuild there if the carried binaries are missing
#   .device/portable/            test_memorization, generate_dataset, train_gpt2 built for any x86-64-v2
#                                CPU (the local build uses -march=native, which the GPU machine's CPU
#                                may not run), for the evaluator's CPU-vs-GPU comparison there
#   .device/fallback/            libcurl and libpcre2-8 with their dependencies, used there only for a
#                                library the machine lacks
# Then build the GPU binaries to carry: make (sm_80 + sm_90) and make -C dev/cuda.
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

# Portable CPU programs, built from a copy of the working tree (tracked and untracked files) so
# that this checkout's -march=native objects stay as they are.
mkdir -p "$work/tree/build" .device/portable
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work/tree"
[ -d build/vocab ] && cp -r build/vocab "$work/tree/build/"
make -C "$work/tree" -j"$(nproc)" OPT="-O3 -march=x86-64-v2" test_memorization generate_dataset train_gpt2 \
  > "$work/portable.log" 2>&1 || { tail -n 20 "$work/portable.log" >&2; echo "prepare_device: error: the portable build failed" >&2; exit 1; }
cp "$work"/tree/{test_memorization,generate_dataset,train_gpt2} .device/portable/

# Libraries the CPU programs link that a GPU image may lack (the scripts add only missing ones).
mkdir -p .device/fallback
for prog in generate_dataset test_memorization; do
  ldd "./.device/portable/$prog" | awk '$3 ~ /^\// {print $3}'
done | sort -u | grep -v -E '/(libc|libm|libpthread|libdl|librt|libresolv|libgcc_s|libstdc\+\+|libgomp|libz|libmpi|libopen-pal|libopen-rte|libhwloc|libevent_core|libevent_pthreads|libudev|libcjson|libcrypto|libssl|ld-linux)[.-]' |
  while read -r lib; do cp -L "$lib" .device/fallback/; done
echo "prepare_device: .device/portable: $(ls .device/portable | tr '\n' ' '); .device/fallback: $(ls .device/fallback | wc -l) libraries"
echo "prepare_device: now run make and make -C dev/cuda, then scripts/device_check.sh --all on the GPU machine, carrying"
echo "  .device train_gpt2cu test_gpt2cu test_memorizationcu gpt2_tokenizer.bin build/libllmc_portable.a build/dev_cuda build/tests/test_argmax_cuda"
