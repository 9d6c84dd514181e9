#!/usr/bin/env python3
"""Rewrites CUDA sources into C++ for the CPU emulator (dev/cuda/emu/cuda_emu.h).

usage: unlaunch.py OUT_DIR FILE...   (each FILE is written to OUT_DIR/FILE)

Two constructs are not C++ and are rewritten:
  kernel<<<grid, block[, smem[, stream]]>>>(args);
      -> emu_launch(emu_kernel_pointer(kernel) or nullptr without smem, dim3(grid), dim3(block), (size_t)(smem),
                    [&, emu_arg0 = (arg0), ...]() { kernel(emu_arg0, ...); });
     (each argument is evaluated once, at the launch, and every emulated thread gets the copy; plain
     names, literals and pack expansions are passed through)
  extern __shared__ [__align__(n)] T name[];  ->  T *name = (T *)emu_dynamic_shared();
and two are rewritten so that the emulator can check them:
  __shared__ T a[N], b[M];  ->  static T a[N], b[M]; emu_shared_poison(&a, sizeof a); ...
     (blocks run one after another, so shared arrays are function statics, filled with 0xff bytes
     when each block first reaches them: never zeros, never the previous block's values)
  __launch_bounds__(n) ... {  ->  the same, then emu_check_launch_bounds(n); first in the body
Everything else is left to the emulator's header. Files that are not .cu/.cuh are copied unchanged
(headers included by relative path).
"""
import os
import re
import sys

LAUNCH_HEAD = re.compile(r"([A-Za-z_]\w*(?:\s*<[^<>;()]*>)?)\s*<<<")
PLAIN_ARGUMENT = re.compile(r"[A-Za-z_][\w.]*(?:->\w+)*(?:\.\.\.)?|[-+]?[\d.]+[fFuUlL]*")
EXTERN_SHARED = re.compile(r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([A-Za-z_][\w ]*?)\s+(\w+)\s*\[\s*\]\s*;")


def split_top_level(text, sep=","):
    """Splits on separators outside (), [] and {} (not <>: a template argument list with a comma in
    a launch configuration is not supported, and fails to compile rather than being mistranslated)."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return parts


def matching_paren(text, open_index):
    depth = 0
    for i in range(open_index, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced parentheses after a launch")


STATIC_SHARED = re.compile(r"(?<![\w#])__shared__\s+((?:__align__\(\s*\d+\s*\)\s+)?)([^;{}()\n]*?);")
DECLARATOR = re.compile(r"^(.*?)\b([A-Za-z_]\w*)\s*((?:\[[^\]]*\]\s*)*)$", re.S)
LAUNCH_BOUNDS = re.compile(r"__launch_bounds__\s*\(")


def poison_shared(m):
    align, body = m.group(1), m.group(2)
    parts = split_top_level(body)
    first = DECLARATOR.match(parts[0])
    if not first or not first.group(1).strip():
        raise ValueError(f"cannot read the __shared__ declaration '{body}'")
    names = [first.group(2)] + [re.match(r"\s*\**\s*([A-Za-z_]\w*)", p).group(1) for p in parts[1:]]
    return f"static {align}{body};" + "".join(f" emu_shared_poison(&{n}, sizeof {n});" for n in names)


def check_launch_bounds(src):
    out, pos = [], 0
    for m in LAUNCH_BOUNDS.finditer(src):
        close = matching_paren(src, m.end() - 1)
        max_threads = split_top_level(src[m.end():close])[0]
        body = src.index("{", close)
        out.append(src[pos:body + 1])
        out.append(f" emu_check_launch_bounds({max_threads});")
        pos = body + 1
    out.append(src[pos:])
    return "".join(out)


def rewrite(src, path):
    src = EXTERN_SHARED.sub(lambda m: f"{m.group(1)} *{m.group(2)} = ({m.group(1)} *)emu_dynamic_shared();", src)
    src = STATIC_SHARED.sub(poison_shared, src)
    src = check_launch_bounds(src)
    out, pos = [], 0
    while True:
        m = LAUNCH_HEAD.search(src, pos)
        if not m:
            out.append(src[pos:])
            return "".join(out)
        kernel = m.group(1)
        cfg_start = m.end()
        cfg_end = src.index(">>>", cfg_start)
        config = split_top_level(src[cfg_start:cfg_end])
        if not 2 <= len(config) <= 4:
            raise ValueError(f"{path}: launch of {kernel} with {len(config)} configuration arguments")
        grid, block = config[0], config[1]
        smem = config[2] if len(config) > 2 else "0"
        open_paren = src.index("(", cfg_end + 3)
        if src[cfg_end + 3:open_paren].strip():
            raise ValueError(f"{path}: unexpected text between >>> and the arguments of {kernel}")
        close_paren = matching_paren(src, open_paren)
        args = src[open_paren + 1:close_paren]
        out.append(src[pos:m.start()])
        # The kernel's address keys its cudaFuncSetAttribute limit; launches without dynamic shared
        # memory need none (and a template kernel called with deduced arguments has no address here).
        key = "nullptr" if smem == "0" else f"emu_kernel_pointer({kernel})"
        # Each argument is evaluated once, at the launch, as on a GPU: the lambda that every
        # emulated thread calls holds copies.
        # Names, literals and pack expansions (`args...`) are passed through as they are: reading
        # them again changes nothing, and a copy would turn NULL into a long.
        values = [a.strip() for a in split_top_level(args)] if args.strip() else []
        plain = [bool(PLAIN_ARGUMENT.fullmatch(v)) for v in values]
        captures = "".join(f", emu_arg{i} = ({v})" for i, v in enumerate(values) if not plain[i])
        names = ", ".join(v if plain[i] else f"emu_arg{i}" for i, v in enumerate(values))
        out.append(f"emu_launch({key}, dim3({grid}), dim3({block}), (size_t)({smem}), "
                   f"[&{captures}]() {{ {kernel}({names}); }})")
        pos = close_paren + 1


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: unlaunch.py OUT_DIR FILE...")
    out_dir = sys.argv[1]
    for path in sys.argv[2:]:
        with open(path) as f:
            text = f.read()
        if path.endswith((".cu", ".cuh")):
            text = rewrite(text, path)
        dst = os.path.join(out_dir, path)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = dst + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, dst)


if __name__ == "__main__":
    main()
