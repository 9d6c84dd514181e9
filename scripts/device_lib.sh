# Shared by the GPU-machine scripts (scripts/device_check*.sh): PASS/FAIL counting, a timed step
# runner and the library path. Source it from the repository root after setting LOG (the folder
# for the step logs).
passed=0; failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
# run NAME SECONDS CMD...: PASS when CMD exits 0 within SECONDS; output in $LOG/NAME.log, whose
# last lines are shown on failure.
run() {
  local name=$1 secs=$2; shift 2
  local t0=$SECONDS
  if timeout "$secs" "$@" > "$LOG/$name.log" 2>&1; then pass "$name ($((SECONDS - t0)) s)"
  else fail "$name (exit $?, $((SECONDS - t0)) s; last lines:)"; tail -n 25 "$LOG/$name.log" | sed 's/^/    /'; fi
}
# LD_LIBRARY_PATH gets the carried .device/lib (libcjson.so.1, which GPU machines lack) and the
# folder of cuBLASLt (CUDA 13), wherever the machine keeps it.
device_library_path() {
  local cublas_dir="" d f
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -e "$d/libcublasLt.so.13" ] && { cublas_dir=$d; break; }
  done
  if [ -z "$cublas_dir" ]; then
    f=$(find / -name 'libcublasLt.so.13' -not -path '/proc/*' 2>/dev/null | head -n1)
    [ -n "$f" ] && cublas_dir=$(dirname "$f")
  fi
  export LD_LIBRARY_PATH="$PWD/.device/lib${cublas_dir:+:$cublas_dir}:${LD_LIBRARY_PATH:-}"
}
# device_fallback_libs PROGRAM...: for each library the programs need but this machine lacks, a copy
# from .device/fallback (scripts/prepare_device.sh) goes into a folder appended to LD_LIBRARY_PATH,
# so the machine's own libraries still win wherever it has them.
device_fallback_libs() {
  local missing=/tmp/device_fallback_libs lib prog round
  mkdir -p "$missing"
  export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}:$missing"
  for round in 1 2 3; do  # a copied library can reveal missing ones of its own
    for prog in "$@"; do [ -e "$prog" ] && ldd "$prog" | awk '/not found/ {print $1}'; done | sort -u |
      while read -r lib; do
        if [ -e ".device/fallback/$lib" ]; then cp ".device/fallback/$lib" "$missing/" && echo "    fallback library: $lib"; fi
      done
  done
}
