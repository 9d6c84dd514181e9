#!/usr/bin/env python3
"""Compares two trainers' train_log.jsonl files step by step: loss, val_loss and grad_norm, each as the
largest relative difference max|a - b| / max(|a|, 1e-6) over the steps both logged.

usage: compare_train_logs.py REFERENCE_LOG OTHER_LOG TOLERANCE [--grad_norm_tolerance T] [--label NAME]

Prints one PASS/FAIL line per quantity; exits 1 if any exceeds its tolerance or the logs differ in
length. Standard library only (GPU machines' python may lack numpy). Used by tests/test_cuda_emu.sh
(emulated GPU trainer against the CPU trainer) and scripts/device_check.sh (the GPU trainer).
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("other")
    ap.add_argument("tolerance", type=float)
    ap.add_argument("--grad_norm_tolerance", type=float, default=None)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    ref, other = ([json.loads(line) for line in open(p)] for p in (a.reference, a.other))
    label = a.label + " " if a.label else ""
    if not ref or len(ref) != len(other):
        print("FAIL %slogs of %d and %d steps" % (label, len(ref), len(other)))
        return 1
    ok = True
    for key in ("loss", "val_loss", "grad_norm"):
        pairs = [(r[key], o.get(key)) for r, o in zip(ref, other) if key in r]
        limit = a.grad_norm_tolerance if key == "grad_norm" and a.grad_norm_tolerance is not None else a.tolerance
        if not pairs or any(o is None for _, o in pairs):
            err = float("inf")
        else:
            err = max(abs(r - o) / max(abs(r), 1e-6) for r, o in pairs)
        good = err <= limit
        ok &= good
        print("%s %s%s trajectory (%d steps): max relative difference %.2e (tolerance %.0e)"
              % ("PASS" if good else "FAIL", label, key, len(pairs), err, limit))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
