#!/usr/bin/python3
"""Plain PyTorch GPT-2, the oracle for the C model (llmc/gpt2*.c, llmc/adamw.c).

It reads an llm.c model file (v3 fp32 or v5 bf16) and a batch, and writes a reference state:
logits, loss and every parameter gradient for that batch, then the loss trajectory, grad norms and
the parameters after N AdamW steps (torch.optim.AdamW + clip_grad_norm_). The math runs in float64
so the reference is the exact answer up to fp32 rounding of its inputs and outputs.

  fixture    write a small random model (v3 and v5 files) and a batch
  reference  model file + batch -> reference state

Container format shared with tests/unit/test_gpt2_reference.c (little endian):
  b"MLREF001", uint32 count, then per entry: uint32 name length, name, uint32 dtype (0 f32, 1 i32),
  uint32 ndim, uint64 dims[ndim], raw data.
"""
import argparse
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

MAGIC, VERSION_FP32, VERSION_BF16 = 20240326, 3, 5
PARAM_NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
               "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
DECAYED = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def param_shapes(maxT, Vp, L, C):
    return {"wte": (Vp, C), "wpe": (maxT, C), "ln1w": (L, C), "ln1b": (L, C),
            "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C), "attprojw": (L, C, C), "attprojb": (L, C),
            "ln2w": (L, C), "ln2b": (L, C), "fcw": (L, 4 * C, C), "fcb": (L, 4 * C),
            "fcprojw": (L, C, 4 * C), "fcprojb": (L, C), "lnfw": (C,), "lnfb": (C,)}


# ---- container files

def write_container(path, entries):
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(b"MLREF001")
        f.write(struct.pack("<I", len(entries)))
        for name, arr in entries:
            arr = np.ascontiguousarray(arr)
            if arr.dtype == np.float32:
                code = 0
            elif arr.dtype == np.int32:
                code = 1
            else:
                raise ValueError("unsupported dtype %s for %s" % (arr.dtype, name))
            raw = name.encode()
            f.write(struct.pack("<I", len(raw)) + raw)
            f.write(struct.pack("<II", code, arr.ndim))
            f.write(struct.pack("<%dQ" % arr.ndim, *arr.shape))
            f.write(arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_container(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"MLREF001":
        sys.exit("gpt2_reference.py: error: %s is not a reference container (bad magic)" % path)
    (count,), off = struct.unpack_from("<I", data, 8), 12
    out = {}
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, off); off += 4
        name = data[off:off + n].decode(); off += n
        code, ndim = struct.unpack_from("<II", data, off); off += 8
        dims = struct.unpack_from("<%dQ" % ndim, data, off); off += 8 * ndim
        dtype = np.dtype("<f4") if code == 0 else np.dtype("<i4")
        size = int(np.prod(dims)) if ndim else 1
        out[name] = np.frombuffer(data, dtype, size, off).reshape(dims).copy()
        off += size * 4
    return out


# ---- llm.c model files

def read_model(path):
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(256 * 4), dtype="<i4")
        if header[0] != MAGIC or header[1] not in (VERSION_FP32, VERSION_BF16):
            sys.exit("gpt2_reference.py: error: %s is not an llm.c model file (magic/version)" % path)
        maxT, V, L, NH, C, Vp = (int(x) for x in header[2:8])
        shapes = param_shapes(maxT, Vp, L, C)
        total = sum(int(np.prod(s)) for s in shapes.values())
        if header[1] == VERSION_FP32:
            flat = np.frombuffer(f.read(total * 4), dtype="<f4").astype(np.float32)
        else:
            bits = np.frombuffer(f.read(total * 2), dtype="<u2").astype(np.uint32) << 16
            flat = bits.view(np.float32)
        if flat.size != total or f.read(1):
            sys.exit("gpt2_reference.py: error: %s size does not match its header" % path)
    params, off = {}, 0
    for name in PARAM_NAMES:
        n = int(np.prod(shapes[name]))
        params[name] = flat[off:off + n].reshape(shapes[name]).copy()
        off += n
    config = dict(max_seq_len=maxT, vocab_size=V, num_layers=L, num_heads=NH, channels=C, padded_vocab_size=Vp)
    return config, params


def write_model(path, config, params, bf16):
    c = config
    header = np.zeros(256, dtype="<i4")
    header[:8] = [MAGIC, VERSION_BF16 if bf16 else VERSION_FP32, c["max_seq_len"], c["vocab_size"],
                  c["num_layers"], c["num_heads"], c["channels"], c["padded_vocab_size"]]
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(header.tobytes())
        for name in PARAM_NAMES:
            t = torch.from_numpy(np.ascontiguousarray(params[name], dtype=np.float32))
            if bf16:  # torch rounds to nearest even, like llm.c's export
                f.write(t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes())
            else:
                f.write(t.numpy().astype("<f4").tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---- the model

def gpt2_loss(p, config, inputs, targets, positions):
    """Returns (logits (B,T,Vp), mean loss over targets >= 0)."""
    B, T = inputs.shape
    L, NH, C, V = config["num_layers"], config["num_heads"], config["channels"], config["vocab_size"]
    hs = C // NH
    x = p["wte"][inputs] + p["wpe"][positions]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for l in range(L):
        h = F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], eps=1e-5)
        qkv = F.linear(h, p["qkvw"][l], p["qkvb"][l])
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, p["attprojw"][l], p["attprojb"][l])
        h = F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], eps=1e-5)
        h = F.gelu(F.linear(h, p["fcw"][l], p["fcb"][l]), approximate="tanh")
        x = x + F.linear(h, p["fcprojw"][l], p["fcprojb"][l])
    x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], eps=1e-5)
    logits = x @ p["wte"].t()  # tied classifier, all Vp columns
    loss = F.cross_entropy(logits[..., :V].reshape(-1, V), targets.reshape(-1), ignore_index=-1)
    return logits, loss


def cmd_reference(args):
    torch.set_num_threads(1)
    config, params = read_model(args.model)
    batch = read_container(args.batch)
    inputs = torch.from_numpy(batch["inputs"].astype(np.int64))
    targets = torch.from_numpy(batch["targets"].astype(np.int64))
    B, T = inputs.shape
    default_pos = torch.arange(T).expand(B, T)
    shifted_pos = torch.from_numpy(batch["positions"].astype(np.int64))
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    p = {n: torch.nn.Parameter(torch.from_numpy(params[n]).to(dtype)) for n in PARAM_NAMES}
    out = [("inputs", batch["inputs"]), ("targets", batch["targets"]), ("positions", batch["positions"])]
    hyper = dict(lr=args.lr, beta1=args.beta1, beta2=args.beta2, eps=args.eps, weight_decay=args.weight_decay,
                 grad_clip=args.grad_clip, steps=args.steps)
    out.append(("hyper", np.array([hyper[k] for k in ("lr", "beta1", "beta2", "eps", "weight_decay",
                                                       "grad_clip", "steps")], dtype=np.float32)))

    logits, loss = gpt2_loss(p, config, inputs, targets, default_pos)
    loss.backward()
    out.append(("logits", logits.detach().float().numpy()))
    out.append(("loss", np.array([loss.item()], dtype=np.float32)))
    for n in PARAM_NAMES:
        out.append(("grad_" + n, p[n].grad.float().numpy()))
    with torch.no_grad():
        logits_pos, loss_pos = gpt2_loss(p, config, inputs, targets, shifted_pos)
    out.append(("logits_positions", logits_pos.float().numpy()))
    out.append(("loss_positions", np.array([loss_pos.item()], dtype=np.float32)))

    # AdamW on the same batch, weight decay only on the 2-D weights.
    for n in PARAM_NAMES:
        p[n].grad = None
    groups = [{"params": [p[n] for n in PARAM_NAMES if n in DECAYED], "weight_decay": args.weight_decay},
              {"params": [p[n] for n in PARAM_NAMES if n not in DECAYED], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps, foreach=False)
    losses, norms = [], []
    for _ in range(args.steps):
        opt.zero_grad(set_to_none=True)
        _, loss = gpt2_loss(p, config, inputs, targets, default_pos)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_([p[n] for n in PARAM_NAMES], args.grad_clip)
        opt.step()
        losses.append(loss.item())
        norms.append(norm.item())
    out.append(("train_losses", np.array(losses, dtype=np.float32)))
    out.append(("train_grad_norms", np.array(norms, dtype=np.float32)))
    for n in PARAM_NAMES:
        out.append(("final_" + n, p[n].detach().float().numpy()))
    write_container(args.out, out)
    print("reference: loss %.6f, %d AdamW steps: loss %.6f -> %.6f, grad norms %.3f .. %.3f (clip %.2f) -> %s"
          % (out[5][1][0], args.steps, losses[0], losses[-1], max(norms), min(norms), args.grad_clip, args.out))


def cmd_fixture(args):
    g = torch.Generator().manual_seed(args.seed)
    L, C, NH, V, Vp, maxT, B, T = args.layers, args.channels, args.heads, args.vocab, args.padded_vocab, \
        args.max_seq_len, args.batch_size, args.seq_len
    config = dict(max_seq_len=maxT, vocab_size=V, num_layers=L, num_heads=NH, channels=C, padded_vocab_size=Vp)
    shapes = param_shapes(maxT, Vp, L, C)
    params = {}
    for n in PARAM_NAMES:
        shape = shapes[n]
        if n in ("ln1w", "ln2w", "lnfw"):  # near 1, so a wrong weight grad shows
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        elif n in DECAYED:
            t = 0.05 * torch.randn(shape, generator=g)
        else:  # non-zero biases so their gradients and uses are checked
            t = 0.02 * torch.randn(shape, generator=g)
        params[n] = t.numpy().astype(np.float32)
    params["wte"][V:] = 0.0  # padded vocabulary rows are zero, as in llm.c
    os.makedirs(args.out_dir, exist_ok=True)
    write_model(os.path.join(args.out_dir, "tiny_model_v3.bin"), config, params, bf16=False)
    write_model(os.path.join(args.out_dir, "tiny_model_v5.bin"), config, params, bf16=True)
    inputs = torch.randint(0, V, (B, T), generator=g).int()
    targets = torch.randint(0, V, (B, T), generator=g).int()
    targets[0, 3] = -1  # an ignored position: the mean runs over the counted tokens only
    positions = (torch.arange(T) + torch.arange(B)[:, None] * 7 + 5).int()  # offsets like the evaluator's
    write_container(os.path.join(args.out_dir, "tiny_batch.bin"),
                    [("inputs", inputs.numpy()), ("targets", targets.numpy()), ("positions", positions.numpy())])
    print("fixture: L=%d C=%d NH=%d V=%d Vp=%d maxT=%d, batch %dx%d -> %s" % (L, C, NH, V, Vp, maxT, B, T, args.out_dir))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fixture", help="write a small random model (v3 + v5) and a batch")
    f.add_argument("--out_dir", default="tests/reference")
    f.add_argument("--seed", type=int, default=20240326)
    f.add_argument("--layers", type=int, default=2)
    f.add_argument("--channels", type=int, default=64)
    f.add_argument("--heads", type=int, default=4)
    f.add_argument("--vocab", type=int, default=500)
    f.add_argument("--padded_vocab", type=int, default=512)
    f.add_argument("--max_seq_len", type=int, default=64)
    f.add_argument("--batch_size", type=int, default=2)
    f.add_argument("--seq_len", type=int, default=16)
    r = sub.add_parser("reference", help="model file + batch -> reference state")
    r.add_argument("--model", required=True)
    r.add_argument("--batch", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--steps", type=int, default=10)
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--beta1", type=float, default=0.9)
    r.add_argument("--beta2", type=float, default=0.95)
    # 1e-4, not 1e-8: with a tiny eps, Adam turns fp32 rounding noise in gradients that are zero in
    # exact math (the key bias: softmax ignores a constant shift) into O(lr) steps, so even torch's own
    # fp32 run differs from float64 by 8e-4 at eps 1e-8 and 2e-6 at 1e-5. At 1e-4 every fp32
    # implementation agrees to ~1e-6, while a wrong bias correction, decay set or clip still shows.
    r.add_argument("--eps", type=float, default=1e-4)
    r.add_argument("--weight_decay", type=float, default=0.1)
    r.add_argument("--grad_clip", type=float, default=2.5)  # clips the first steps only
    r.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="precision of the reference math (float64: the exact answer)")
    args = ap.parse_args()
    cmd_fixture(args) if args.cmd == "fixture" else cmd_reference(args)


if __name__ == "__main__":
    main()
