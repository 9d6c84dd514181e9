#!/usr/bin/env python3
"""A random GPT-2 124M-shaped model (d12) in llm.c's v3 fp32 format, for checks and benchmarks.

wte has std 0.1 by default, not GPT-2's 0.02: the logits then spread over a few units, as a trained
model's do, instead of the near-ties of a tiny-logit random model (--wte_std 0.02 gives those).
Used by scripts/device_check_eval.sh and dev/reference/tf32_margin.py. Needs only numpy.

  python3 dev/reference/random_d12.py OUT.bin [--wte_std 0.1] [--seed 1234]
"""
import argparse
import os

import numpy as np


def write_random_d12(path, wte_std=0.1, seed=1234):
    L, C, NH, V, Vp, T = 12, 768, 12, 50257, 50304, 1024
    rng = np.random.default_rng(seed)
    def normal(n, std): return (rng.standard_normal(n, dtype=np.float32) * std).astype(np.float32)
    wte = normal(Vp * C, wte_std); wte[V * C:] = 0.0
    parts = [wte, normal(T * C, 0.01), np.ones(L * C, np.float32), np.zeros(L * C, np.float32),
             normal(L * 3 * C * C, 0.02), np.zeros(L * 3 * C, np.float32),
             normal(L * C * C, 0.02 / np.sqrt(2 * L)), np.zeros(L * C, np.float32),
             np.ones(L * C, np.float32), np.zeros(L * C, np.float32),
             normal(L * 4 * C * C, 0.02), np.zeros(L * 4 * C, np.float32),
             normal(L * C * 4 * C, 0.02 / np.sqrt(2 * L)), np.zeros(L * C, np.float32),
             np.ones(C, np.float32), np.zeros(C, np.float32)]
    header = np.zeros(256, dtype=np.int32); header[:8] = [20240326, 3, T, V, L, NH, C, Vp]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(header.tobytes())
        for p in parts:
            f.write(p.tobytes())
    os.replace(tmp, path)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--wte_std", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1234)
    a = ap.parse_args()
    write_random_d12(a.out, a.wte_std, a.seed)
