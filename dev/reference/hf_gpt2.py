#!/usr/bin/python3
"""A plain PyTorch GPT-2 in Hugging Face's conventions, the oracle for convert_hf.

Hugging Face's GPT2LMHeadModel keeps its attention and MLP weights as Conv1D, (in, out), applied as
x @ W + b; names are transformer.h.N.attn.c_attn.weight and so on (or without "transformer."); the
vocabulary is not padded; lm_head is tied to wte unless config.json says tie_word_embeddings: false.
transformers is not installed here, so the forward is written out below from those conventions.
Its own safetensors reader (json + numpy) is independent of the C one in llmc/safetensors.c.

Subcommands (run with Debian's /usr/bin/python3, which has torch and numpy):
  make      write a synthetic HF GPT-2 directory (config.json, safetensors) with known random values
  logits    HF-convention forward on a HF directory -> float32 logits file (B, T, V)
  write_llmc  write an llm.c model .bin (v3 fp32 / v5 bf16) with random values, for round trips
  compare   compare two float32 logits files (max |a-b| / max |b|)
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np

torch = None   # imported only by the forward: building files should not pay for it


def import_torch():
    global torch
    import torch as t
    torch = t

DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4}

LAYER_NAMES = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
               "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
               "mlp.c_proj.weight", "mlp.c_proj.bias"]


def hf_shapes(L, C, V, maxT):
    """HF GPT-2 tensor name (without 'transformer.') -> shape, Conv1D weights as (in, out)."""
    shapes = {"wte.weight": (V, C), "wpe.weight": (maxT, C)}
    per_layer = {"ln_1.weight": (C,), "ln_1.bias": (C,), "attn.c_attn.weight": (C, 3 * C), "attn.c_attn.bias": (3 * C,),
                 "attn.c_proj.weight": (C, C), "attn.c_proj.bias": (C,), "ln_2.weight": (C,), "ln_2.bias": (C,),
                 "mlp.c_fc.weight": (C, 4 * C), "mlp.c_fc.bias": (4 * C,), "mlp.c_proj.weight": (4 * C, C),
                 "mlp.c_proj.bias": (C,)}
    for l in range(L):
        for k in LAYER_NAMES:
            shapes[f"h.{l}.{k}"] = per_layer[k]
    shapes["ln_f.weight"] = (C,)
    shapes["ln_f.bias"] = (C,)
    return shapes


# ---------------------------------------------------------------------------------------------
# safetensors in numpy

def to_bytes(array, dtype):
    """float array -> little-endian bytes of a safetensors dtype (BF16 rounds to nearest even)."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    if dtype == "BF16":
        bits = a.view(np.uint32).astype(np.uint64)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16          # nearest, ties to even (no NaNs here)
        return rounded.astype("<u2").tobytes()
    raise ValueError(dtype)


def from_bytes(raw, dtype, shape):
    if dtype == "F32":
        a = np.frombuffer(raw, dtype="<f4")
    elif dtype == "F16":
        a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    elif dtype == "BF16":
        a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        raise ValueError(f"unsupported dtype {dtype}")
    return a.reshape(shape)


def write_safetensors(path, tensors, header_only_size=False, pad=True):
    """tensors: list of (name, dtype, array or shape). header_only_size: write the header and make the
    file its full size as a sparse hole (no data written), for shape checks of the big models."""
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name, dtype, value in tensors:
        shape = list(value) if isinstance(value, tuple) else list(value.shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * DTYPE_SIZES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
        if not isinstance(value, tuple):
            blobs.append(to_bytes(value, dtype))
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        if header_only_size:
            f.truncate(8 + len(text) + offset)
        else:
            for b in blobs:
                f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = (info["dtype"], from_bytes(data[begin:end], info["dtype"], info["shape"]))
    return out


def load_hf_dir(directory):
    """name (without 'transformer.') -> float32 array, plus config.json."""
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    state = {}
    for name in files:
        for key, (_, array) in read_safetensors(os.path.join(directory, name)).items():
            bare = key[len("transformer."):] if key.startswith("transformer.") else key
            state[bare] = array
    return config, state


# ---------------------------------------------------------------------------------------------
# The forward, in float64, exactly as HF's GPT2LMHeadModel computes it (eval mode: no dropout).

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def hf_forward(config, state, tokens):
    """tokens (B, T) int64 -> logits (B, T, V) float64."""
    L, NH, C = config["n_layer"], config["n_head"], config["n_embd"]
    eps = config.get("layer_norm_epsilon", 1e-5)
    w = {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in state.items()}
    B, T = tokens.shape
    x = w["wte.weight"][tokens] + w["wpe.weight"][torch.arange(T)]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        p = f"h.{l}."
        h = torch.nn.functional.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]          # Conv1D: (B,T,C) @ (C,3C)
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, NH, C // NH).transpose(1, 2) for t in (q, k, v))   # (B,NH,T,hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = torch.nn.functional.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])          # (B,T,4C)
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = torch.nn.functional.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], eps)
    # HF ties lm_head to wte (ignoring any stored lm_head.weight) unless tie_word_embeddings is false.
    tied = config.get("tie_word_embeddings", True)
    head = w["wte.weight"] if tied else w["lm_head.weight"]
    return x @ head.T


# ---------------------------------------------------------------------------------------------
# Subcommands

def cmd_make(a):
    rng = np.random.default_rng(a.seed)
    L, C, NH, V, maxT = a.layers, a.channels, a.heads, a.vocab, a.positions
    config = {"architectures": [a.architecture], "model_type": "gpt2", "activation_function": "gelu_new",
              "n_layer": L, "n_head": NH, "n_embd": C, "n_positions": maxT, "n_ctx": maxT, "vocab_size": V,
              "layer_norm_epsilon": 1e-5}
    if a.torch_dtype:
        config["torch_dtype"] = a.torch_dtype
    if a.lm_head == "untied":
        config["tie_word_embeddings"] = False
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    shapes = hf_shapes(L, C, V, maxT)
    tensors = []
    for name, shape in shapes.items():
        full = ("transformer." + name) if a.prefix else name
        if a.header_only:
            tensors.append((full, a.dtype, tuple(shape)))
            continue
        # Values with structure in every direction, so a missed transpose changes the logits; the scale
        # shrinks with width so that wide models stay in a range where fp32 is accurate.
        scale = 0.2 * min(1.0, math.sqrt(32.0 / C))
        value = rng.normal(0.0, scale if len(shape) == 2 else 0.1, size=shape).astype(np.float32)
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            value += 1.0
        if a.transposed_linear and len(shape) == 2 and name.startswith("h.") and "c_" in name:
            value = np.ascontiguousarray(value.T)   # nn.Linear (out, in): the wrong layout for GPT-2
        tensors.append((full, a.dtype, value))
    if a.lm_head != "absent":
        if a.header_only:
            tensors.append(("lm_head.weight", a.dtype, (V, C)))
        elif a.lm_head == "tied":
            tensors.append(("lm_head.weight", a.dtype, tensors[0][2]))
        else:
            tensors.append(("lm_head.weight", a.dtype, rng.normal(0.0, 0.2, size=(V, C)).astype(np.float32)))
    if a.buffers:   # the causal-mask buffers older exports carry
        for l in range(L):
            tensors.append((f"h.{l}.attn.bias", "F32", np.tril(np.ones((1, 1, maxT, maxT), np.float32))))
    if a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), tensors, a.header_only)
        return
    weight_map, per = {}, (len(tensors) + a.shards - 1) // a.shards
    for s in range(a.shards):
        name = f"model-{s + 1:05d}-of-{a.shards:05d}.safetensors"
        part = tensors[s * per:(s + 1) * per]
        write_safetensors(os.path.join(a.out, name), part, a.header_only)
        weight_map.update({t[0]: name for t in part})
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)


def read_tokens(path):
    with open(path) as f:
        rows = [[int(t) for t in line.split()] for line in f if line.strip()]
    return torch.tensor(rows, dtype=torch.int64)


def reference_logits(model_dir, tokens, transpose_attn_proj=False):
    config, state = load_hf_dir(model_dir)
    if transpose_attn_proj:   # negative control: the bug of forgetting the Conv1D transpose on a square weight
        for l in range(config["n_layer"]):
            key = f"h.{l}.attn.c_proj.weight"
            state[key] = np.ascontiguousarray(state[key].T)
    return hf_forward(config, state, tokens).numpy()


def relative_error(actual_path, padded_cols, expected):
    """max |a - b| / max |b| over the real vocabulary columns; actual is float32 (rows, padded_cols)."""
    vocab = expected.shape[-1]
    actual = np.fromfile(actual_path, dtype="<f4").reshape(-1, padded_cols)[:, :vocab].astype(np.float64)
    expected = expected.reshape(-1, vocab)
    if actual.shape != expected.shape:
        raise ValueError(f"shape {actual.shape} vs {expected.shape}")
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


def cmd_logits(a):
    import_torch()
    logits = reference_logits(a.model, read_tokens(a.tokens), a.transpose_attn_proj)
    logits.astype("<f4").tofile(a.out)


def cmd_batch(a):
    """One torch start-up for many comparisons. Each job line: NAME HF_DIR C_LOGITS PADDED_VOCAB TRANSPOSE;
    prints 'NAME pass|fail|error ERROR' per job (pass: relative error <= tolerance)."""
    import_torch()
    tokens = read_tokens(a.tokens)
    for line in open(a.jobs):
        name, model_dir, actual, padded, transpose = line.split()
        try:
            err = relative_error(actual, int(padded), reference_logits(model_dir, tokens, transpose == "1"))
        except Exception as e:   # a missing C output is an error (never a 'fail' a negative control wants)
            print(f"{name} error {type(e).__name__}:{str(e)[:80].replace(' ', '_')}", flush=True)
            continue
        print(f"{name} {'pass' if err <= a.tolerance else 'fail'} {err:.3g}", flush=True)


def cmd_write_llmc(a):
    """An llm.c model file written here, not by the C code, so a round trip checks two writers."""
    rng = np.random.default_rng(a.seed)
    L, C, NH, V, maxT = a.layers, a.channels, a.heads, a.vocab, a.positions
    Vp = (V + 127) // 128 * 128
    shapes = [(Vp, C), (maxT, C), (L, C), (L, C), (L, 3 * C, C), (L, 3 * C), (L, C, C), (L, C), (L, C), (L, C),
              (L, 4 * C, C), (L, 4 * C), (L, C, 4 * C), (L, C), (C,), (C,)]
    params = []
    for i, shape in enumerate(shapes):
        value = rng.normal(0.0, 0.3, size=shape).astype(np.float32)
        if i == 0:
            value[V:] = 0.0   # padded vocab rows are zero in llm.c files
        params.append(value.ravel())
    flat = np.concatenate(params)
    header = np.zeros(256, dtype="<i4")
    header[:8] = [20240326, 5 if a.bf16 else 3, maxT, V, L, NH, C, Vp]
    with open(a.out, "wb") as f:
        f.write(header.tobytes())
        f.write(to_bytes(flat, "BF16" if a.bf16 else "F32"))


def cmd_compare(a):
    x = np.fromfile(a.actual, dtype="<f4").reshape(-1, a.actual_cols)[:, :a.vocab]
    y = np.fromfile(a.expected, dtype="<f4").reshape(-1, a.vocab)
    if x.shape != y.shape:
        sys.exit(f"shape mismatch: {x.shape} vs {y.shape}")
    rel = float(np.max(np.abs(x.astype(np.float64) - y)) / np.max(np.abs(y)))
    print(f"max relative error {rel:.3g} (tolerance {a.tolerance:g}) over {y.size} logits")
    sys.exit(0 if rel <= a.tolerance else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="write a synthetic HF GPT-2 directory")
    for name, default in [("layers", 2), ("channels", 32), ("heads", 4), ("vocab", 300), ("positions", 64), ("seed", 0), ("shards", 1)]:
        m.add_argument("--" + name, type=int, default=default)
    m.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16", "I64"])
    m.add_argument("--torch_dtype", default=None)
    m.add_argument("--architecture", default="GPT2LMHeadModel")
    m.add_argument("--prefix", type=int, default=1, help="1: transformer.h.N..., 0: h.N...")
    m.add_argument("--lm_head", default="absent", choices=["absent", "tied", "untied"])
    m.add_argument("--buffers", type=int, default=0, help="add h.N.attn.bias causal-mask buffers")
    m.add_argument("--transposed_linear", type=int, default=0, help="store Conv1D weights as nn.Linear (out, in)")
    m.add_argument("--header_only", type=int, default=0, help="sparse file: header only, data a hole")
    m.add_argument("--out", required=True)
    g = sub.add_parser("logits", help="HF-convention forward")
    g.add_argument("--model", required=True)
    g.add_argument("--tokens", required=True, help="text file, one row of token ids per line")
    g.add_argument("--out", required=True)
    g.add_argument("--transpose_attn_proj", type=int, default=0, help="negative control: wrong orientation")
    w = sub.add_parser("write_llmc", help="write an llm.c .bin with random values")
    for name, default in [("layers", 2), ("channels", 32), ("heads", 4), ("vocab", 300), ("positions", 64), ("seed", 0), ("bf16", 0)]:
        w.add_argument("--" + name, type=int, default=default)
    w.add_argument("--out", required=True)
    b = sub.add_parser("batch", help="many HF forwards vs C logits files")
    b.add_argument("--jobs", required=True)
    b.add_argument("--tokens", required=True)
    b.add_argument("--tolerance", type=float, default=1e-5)
    c = sub.add_parser("compare", help="compare logits files")
    c.add_argument("--actual", required=True)
    c.add_argument("--actual_cols", type=int, required=True, help="columns per row in actual (Vp)")
    c.add_argument("--expected", required=True)
    c.add_argument("--vocab", type=int, required=True)
    c.add_argument("--tolerance", type=float, default=1e-5)
    a = p.parse_args()
    {"make": cmd_make, "logits": cmd_logits, "batch": cmd_batch, "write_llmc": cmd_write_llmc, "compare": cmd_compare}[a.command](a)


if __name__ == "__main__":
    main()
