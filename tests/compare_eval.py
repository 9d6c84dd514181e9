#!/usr/bin/env python3
# compare_eval.py CPU.json GPU.json [both]: the GPU evaluator (test_memorizationcu) against the CPU
# one (test_memorization) on the same checkpoint and flags. Every probe record's decisions and texts
# must be identical and its numbers within 1e-4 (relative to max(1, |value|)); every number under
# results and privacy likewise; the GPU run must say it ran on the GPU. "both": the records must
# also hold both outcomes (exact match and ID match), or agreement would prove little.
# Used by tests/test_memorization_cuda.sh and scripts/device_check_eval.sh (which also compares two
# GPU runs with it).
import json, math, sys
cpu_path, gpu_path = sys.argv[1], sys.argv[2]
need_both = len(sys.argv) > 3
cpu, gpu = json.load(open(cpu_path)), json.load(open(gpu_path))
# (the first file may be a GPU run too: two GPU variants, e.g. the decode attention versions)
assert cpu["backend"]["name"] in ("cpu", "cuda") and gpu["backend"]["name"] == "cuda", (cpu["backend"], gpu["backend"])
assert gpu["program"] == "test_memorizationcu", gpu["program"]
print("GPU:", gpu["backend"]["device"], "near ties:", gpu["backend"]["near_ties"], "CPU near ties:", cpu["backend"]["near_ties"])
bad = []
def close(a, b):
    return abs(a - b) <= 1e-4 * max(1.0, abs(a), abs(b))
def walk(a, b, path):
    if isinstance(a, dict):
        if set(a) != set(b): bad.append((path, "keys", sorted(set(a) ^ set(b)))); return
        for k in a:
            if k in ("bootstrap_seed",): continue
            walk(a[k], b[k], path + "." + k)
    elif isinstance(a, list):
        if len(a) != len(b): bad.append((path, "length", len(a), len(b))); return
        for i, (x, y) in enumerate(zip(a, b)): walk(x, y, "%s[%d]" % (path, i))
    elif isinstance(a, bool) or a is None or isinstance(a, str):
        if a != b: bad.append((path, a, b))
    elif isinstance(a, (int, float)):
        if not isinstance(b, (int, float)) or isinstance(b, bool) or not close(a, b): bad.append((path, a, b))
for key in ("results", "privacy", "context_lengths", "skipped_context_lengths", "dataset", "model"):
    walk(cpu[key], gpu[key], key)
recs_c = [json.loads(l) for l in open(cpu_path + "l")]
recs_g = [json.loads(l) for l in open(gpu_path + "l")]
assert len(recs_c) == len(recs_g) > 0, (len(recs_c), len(recs_g))
exact = idm = 0
for i, (c, g) in enumerate(zip(recs_c, recs_g)):
    assert (c["example_id"], c["k"]) == (g["example_id"], g["k"])
    walk(c, g, "record %d (%s k=%d)" % (i, c["example_id"], c["k"]))
    exact += c["exact_match"]; idm += bool(c["id_match"])
print("%d records; exact matches %d, ID matches %d; differences %d" % (len(recs_c), exact, idm, len(bad)))
for b in bad[:20]: print("differs:", *b)
if need_both: assert 0 < exact < len(recs_c) and 0 < idm < len(recs_c), "need both outcomes"
sys.exit(1 if bad else 0)
