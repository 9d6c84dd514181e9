#!/usr/bin/python3
"""How far do TF32 matmuls move GPT-2 logits from fp32 ones? (CPU emulation)

The GPU evaluator may run its matmuls in TF32 (operands rounded to a 10-bit mantissa, products
accumulated in fp32). Its argmax decisions must equal the fp32 ones, so every row whose TF32
relative margin (top1 - top2) / max(1, |top1|) falls below a bound tau is rerun in fp32. This
script measures the error that bound must exceed: for every position of a few examples,

  R = max_v |lt[v] - l32[v]| / max(1, |max_v l32[v]|)

with l32 the fp32 logits and lt the TF32-emulated ones (real vocabulary only). If both logits
are perturbed by at most R (relative), a TF32 margin above 2R means the fp32 argmax is the same.

TF32 is emulated by rounding both operands of every linear layer (qkv, attention projection,
fc, fc projection, classifier x @ wte^T) to TF32 before an fp32 matmul; the attention score
and value products stay fp32, as in the GPU evaluator. Two roundings of the 13 dropped mantissa
bits: round to nearest even (rne) and truncation (trunc).

  /usr/bin/python3 dev/reference/tf32_margin.py --model M --tokens SHARD --examples N --length T \
      [--rounding rne|trunc|both] [--make_d12 WTE_STD]

--make_d12 first writes a random d12 to --model (dev/reference/random_d12.py, seed 1234, as
scripts/device_check_eval.sh uses it) with the given wte std (that script uses 0.1; GPT-2's init
is 0.02).
"""
import argparse
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_reference as ref  # noqa: E402  (read_model, gpt2_loss: the float64 oracle)
from random_d12 import write_random_d12  # noqa: E402

EOT = 50256


# ---- TF32 rounding (float32 -> float32 with the low 13 mantissa bits cleared)

def tf32_rne(x):
    b = x.contiguous().view(torch.int32)
    b = (b + (0xFFF + ((b >> 13) & 1))) & -8192  # round half to even on bit 13, then clear
    return b.view(torch.float32)


def tf32_trunc(x):
    return (x.contiguous().view(torch.int32) & -8192).view(torch.float32)


ROUNDERS = {"fp32": None, "rne": tf32_rne, "trunc": tf32_trunc}


# ---- data and models

def read_records(path, n, length):
    header = np.fromfile(path, dtype="<i4", count=256)
    if header[0] != 20240520:
        sys.exit("%s: not a token shard" % path)
    tokens = np.fromfile(path, dtype="<u2", offset=1024, count=int(header[2])).astype(np.int64)
    R = int(header[3]) or 1025
    recs = tokens[: (tokens.size // R) * R].reshape(-1, R)[:n]
    if length > R:
        sys.exit("length %d > record length %d" % (length, R))
    assert (recs[:, 0] == EOT).all(), "records must start with eot"
    return torch.from_numpy(recs[:, :length].copy())


# ---- float32 forward with hooked linear layers

def forward(p, cfg, idx, rounder):
    """fp32 logits (B, T, V). rounder: None (fp32) or a TF32 rounding applied to both operands
    of every linear layer; p holds the weights already rounded the same way (see round_weights)."""
    L, NH, C, V = cfg["num_layers"], cfg["num_heads"], cfg["channels"], cfg["vocab_size"]
    B, T = idx.shape
    hs = C // NH
    r = rounder or (lambda t: t)
    lin = lambda h, w, b: F.linear(r(h), w, b)  # w is pre-rounded
    x = p["wte"][idx] + p["wpe"][:T]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        q, k, v = lin(h, p["qkvw"][l], p["qkvb"][l]).split(C, dim=-1)
        q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)  # fp32, not rounded
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + lin(y, p["attprojw"][l], p["attprojb"][l])
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(lin(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
        x = x + lin(h, p["fcprojw"][l], p["fcprojb"][l])
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    return r(x) @ p["wte_cls"][:V].t()


def round_weights(p, rounder):
    q = dict(p)
    q["wte_cls"] = p["wte"]  # the classifier's copy of wte (the embedding lookup stays fp32)
    if rounder is not None:
        for n in ("qkvw", "attprojw", "fcw", "fcprojw"):
            q[n] = rounder(p[n])
        q["wte_cls"] = rounder(p["wte"])
    return q


# ---- measures

def rel_margin(logits):
    top = logits.topk(2, dim=-1).values
    return (top[..., 0] - top[..., 1]) / top[..., 0].abs().clamp(min=1.0)


def argmax_low(logits):
    return logits.argmax(dim=-1)  # torch returns the first (lowest id) maximum


def check_against_float64(p32, cfg, idx, l32, npos):
    """Max relative logit difference, fp32 forward vs gpt2_reference's float64 one, first npos positions."""
    idx = idx[:1, :npos]
    p64 = {n: torch.from_numpy(v).double() for n, v in p32.items() if n in ref.PARAM_NAMES}
    pos = torch.arange(idx.shape[1]).expand_as(idx)
    l64, _ = ref.gpt2_loss(p64, cfg, idx, torch.zeros_like(idx), pos)
    l64 = l64[..., :cfg["vocab_size"]]
    a = l32[:1, :npos].double()
    d = (a - l64).abs().amax(-1) / l64.amax(-1).abs().clamp(min=1.0)
    same = (argmax_low(a) == argmax_low(l64)).all().item()
    return d.max().item(), same


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--examples", type=int, default=2)
    ap.add_argument("--length", type=int, default=612, help="input tokens per example (record[0 .. T))")
    ap.add_argument("--rounding", choices=["rne", "trunc", "both"], default="both")
    ap.add_argument("--make_d12", type=float, default=None, metavar="WTE_STD",
                    help="first write the random d12 of scripts/device_check_eval.sh to --model")
    ap.add_argument("--check_positions", type=int, default=32, help="positions checked against float64")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    if args.make_d12 is not None:
        write_random_d12(args.model, args.make_d12)
    cfg, params = ref.read_model(args.model)
    idx = read_records(args.tokens, args.examples, args.length)
    if idx.shape[1] > cfg["max_seq_len"]:
        sys.exit("length exceeds the model's max_seq_len")
    p = {n: torch.from_numpy(v) for n, v in params.items()}
    print("model %s: L=%d C=%d NH=%d V=%d | %d examples x %d positions = %d"
          % (args.model, cfg["num_layers"], cfg["channels"], cfg["num_heads"], cfg["vocab_size"],
             idx.shape[0], idx.shape[1], idx.numel()))

    with torch.inference_mode():
        l32 = forward(round_weights(p, None), cfg, idx, None)
        d64, same = check_against_float64(params, cfg, idx, l32, min(args.check_positions, idx.shape[1]))
        print("fp32 vs float64 (gpt2_reference), first %d positions: max rel logit diff %.2e, argmax %s"
              % (min(args.check_positions, idx.shape[1]), d64, "same" if same else "DIFFERS"))
        m = rel_margin(l32).flatten()
        a32 = argmax_low(l32).flatten()
        top1 = l32.amax(-1).flatten()
        print("fp32 logits: max |top1| %.3g; rel margin m: min %.2e, median %.2e, p0.1 %.2e"
              % (top1.abs().max().item(), m.min().item(), m.median().item(),
                 torch.quantile(m.double(), 0.001).item()))
        print("%-6s %10s %10s %10s %6s  %s" % ("round", "max R", "p99.9 R", "median R", "flips", "fp32 m of flips"))
        modes = ["rne", "trunc"] if args.rounding == "both" else [args.rounding]
        maxR = {}
        for mode in modes:
            rounder = ROUNDERS[mode]
            lt = forward(round_weights(p, rounder), cfg, idx, rounder)
            R = ((lt - l32).abs().amax(-1) / top1.view(l32.shape[:-1]).abs().clamp(min=1.0)).flatten().double()
            flips = (argmax_low(lt).flatten() != a32).nonzero().flatten()
            fm = ", ".join("%.1e" % m[i].item() for i in flips[:10]) + (" ..." if flips.numel() > 10 else "")
            print("%-6s %10.3e %10.3e %10.3e %6d  %s" % (mode, R.max().item(), torch.quantile(R, 0.999).item(),
                                                          R.median().item(), flips.numel(), fm or "-"))
            maxR[mode] = R.max().item()
            # flips must sit where the margin is below 2R (the bound's premise)
            bad = [i for i in flips.tolist() if m[i].item() > 2 * R[i].item()]
            if bad:
                print("       WARNING: %d flips with fp32 m > 2R" % len(bad))
        worst = max(maxR.values())
        for k in (2, 4, 10):
            print("positions with fp32 m < %2d x max R (%.1e): %d of %d" % (k, k * worst, (m < k * worst).sum().item(), m.numel()))


if __name__ == "__main__":
    main()
