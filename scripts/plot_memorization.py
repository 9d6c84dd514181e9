#!/usr/bin/python3
"""Plots of a test_memorization result: every metric against context length, members beside
non-members with their 95% intervals, and the training loss from train_log.jsonl.

usage: plot_memorization.py [RESULTS.json] [--train_log train_log.jsonl] [--output_dir DIR]
Writes DIR/memorization_overview.png, DIR/memorization_<metric>.png and DIR/training_loss.png
(DIR defaults to the results file's directory, else the log's). A train_log.jsonl written with
--mem_eval_every also gives DIR/memorization_during_training.png: exact match (left) and token
accuracy (right) against training step, one color per context length, members solid, non-members
dashed. For a dataset with repeated examples
(generate_dataset --duplicates), DIR/memorization_vs_repeats.png: exact match and ID match against
training copies (log x-axis, one line per context length), exposure and membership-inference AUC. Needs matplotlib (Debian: python3-matplotlib).
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only: works on machines without a display
import matplotlib.pyplot as plt  # noqa: E402

SUPPORTED_SCHEMA = 1  # test_memorization's schema_version this script reads
METRICS = [  # key in the results JSON, title, y-axis label, y range (None = automatic)
    ("exact_match_rate", "Exact match", "share of examples", (-0.03, 1.03)),
    ("id_match_rate", "ID match (closing identifier)", "share of examples", (-0.03, 1.03)),
    ("avg_similarity", "TF-IDF cosine similarity", "mean cosine", (-0.03, 1.03)),
    ("token_accuracy", "Token accuracy (teacher-forced)", "mean share of tokens", (-0.03, 1.03)),
    ("matched_prefix", "Matched prefix", "mean tokens before the first error", None),
    ("loss", "Loss of the true continuation", "mean NLL (nats/token)", None),
]
SPLITS = [("train", "members (train)", "tab:red", "o"), ("test", "non-members (test)", "tab:blue", "s")]


def series(results, split, metric):
    by_k = results["results"][split]["by_context_length"]
    rows = sorted(by_k.values(), key=lambda a: a["k"])
    ks = [a["k"] for a in rows if a[metric]["value"] is not None]
    val = [a[metric]["value"] for a in rows if a[metric]["value"] is not None]
    lo = [a[metric]["ci_low"] for a in rows if a[metric]["value"] is not None]
    hi = [a[metric]["ci_high"] for a in rows if a[metric]["value"] is not None]
    return ks, val, lo, hi


def draw_metric(ax, results, metric, title, ylabel, ylim):
    for split, label, color, marker in SPLITS:
        if split not in results["results"]:
            continue
        ks, val, lo, hi = series(results, split, metric)
        if not ks:
            continue
        n = results["results"][split]["num_examples"]
        ax.plot(ks, val, marker=marker, color=color, label=f"{label}, n={n}")
        ax.fill_between(ks, lo, hi, color=color, alpha=0.18, linewidth=0)
    ax.set_xscale("log", base=2)
    ks_all = results["context_lengths"]
    ax.set_xticks(ks_all)
    ax.set_xticklabels([str(k) for k in ks_all])
    ax.set_xlabel("context length k (prompt tokens)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


def subtitle(results):
    m = results["model"]
    c = results["config"]
    return (f"GPT-2 L={m['num_layers']} C={m['channels']} ({m['num_parameters'] / 1e6:.1f}M params), "
            f"{results['dataset']['tokens_per_example']} tokens/example, max_new_tokens={c['max_new_tokens']}; "
            f"shaded: 95% intervals (Wilson for rates, bootstrap for means)")


def plot_results(results, out_dir):
    written = []
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    for ax, (metric, title, ylabel, ylim) in zip(axes.ravel(), METRICS):
        draw_metric(ax, results, metric, title, ylabel, ylim)
    fig.suptitle("Memorization by context length\n" + subtitle(results), fontsize=11)
    fig.tight_layout()
    path = os.path.join(out_dir, "memorization_overview.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    for metric, title, ylabel, ylim in METRICS:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        draw_metric(ax, results, metric, title, ylabel, ylim)
        fig.tight_layout()
        path = os.path.join(out_dir, f"memorization_{metric}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def plot_training(log_path, out_dir):
    steps, losses, val_steps, val_losses = [], [], [], []
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("loss") is not None and "step" in rec:
                steps.append(rec["step"])
                losses.append(rec["loss"])
            for key in ("val_loss", "validation_loss"):
                if rec.get(key) is not None:
                    val_steps.append(rec["step"])
                    val_losses.append(rec[key])
                    break
    if not steps:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(steps, losses, color="tab:red", label="training loss (members)")
    if val_steps:
        ax.plot(val_steps, val_losses, color="tab:blue", marker="s", label="validation loss (non-members)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token, log scale)")
    ax.set_title("Training loss")
    ax.grid(True, alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "training_loss.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_mem_eval(log_path, out_dir):
    """Exact match (and token accuracy) of the trainer's --mem_eval_every probes against step;
    None when the log has no probe rows."""
    rows = []
    with open(log_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                if isinstance(rec.get("mem_eval"), dict):
                    rows.append(rec)
    if not rows:
        return None
    last = rows[-1]["mem_eval"]
    ks = last["context_lengths"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    colors = plt.get_cmap("viridis")
    for ax, metric, title in ((axes[0], "exact_match", "Exact match (teacher-forced, greedy-equivalent)"),
                              (axes[1], "token_accuracy", "Token accuracy (teacher-forced)")):
        for i, k in enumerate(ks):
            color = colors(i / max(1, len(ks) - 1))
            for group, style, label in (("members", "-", "members"), ("non_members", "--", "non-members")):
                xs, ys = [], []
                for r in rows:  # a probe with other context lengths (flags changed on resume) is skipped
                    m = r["mem_eval"]
                    if k in m["context_lengths"]:
                        xs.append(r["step"])
                        ys.append(m[group][metric][m["context_lengths"].index(k)])
                ax.plot(xs, ys, ls=style, color=color, marker="o" if style == "-" else None, markersize=3,
                        label=f"k={k} {label}")
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("share of examples" if metric == "exact_match" else "mean share of tokens")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Memorization during training: {last['members']['examples']} members (solid) and "
                 f"{last['non_members']['examples']} non-members (dashed), {last['new_tokens']} new tokens after "
                 f"k context tokens", fontsize=11)
    fig.tight_layout()
    path = os.path.join(out_dir, "memorization_during_training.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_repeats(results, out_dir):
    """Memorization against the number of training copies; None without repeated examples."""
    by_k = results["results"].get("train", {}).get("by_context_length", {})
    if not any(len(a.get("by_repeats", {})) > 1 for a in by_k.values()):
        return None
    privacy = results.get("privacy") or {}
    exposure = (privacy.get("exposure") or {}).get("train", {}).get("by_repeats", {})
    attacks = (privacy.get("membership_inference") or {}).get("attacks", {})
    panels = 2 + bool(exposure) + any("by_repeats" in a for a in attacks.values())
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.5))
    for ax, metric, title in ((axes[0], "exact_match_rate", "Exact match"), (axes[1], "id_match_rate", "ID match")):
        for key in sorted(by_k, key=int):
            reps = by_k[key].get("by_repeats", {})
            xs = sorted(reps, key=int)
            ys = [reps[x][metric]["value"] for x in xs]
            ax.plot([int(x) for x in xs], [float("nan") if y is None else y for y in ys], marker="o", label=f"k={key}")
        ax.set_title(title)
        ax.set_ylabel("share of members")
        ax.set_ylim(-0.03, 1.03)
    next_ax = 2
    if exposure:
        ax = axes[next_ax]; next_ax += 1
        xs = sorted(exposure, key=int)
        ax.plot([int(x) for x in xs], [exposure[x]["mean_exposure"]["value"] for x in xs], marker="o", label="members: rank-based")
        non = privacy["exposure"].get("test", {}).get("mean_exposure", {}).get("value")
        if non is not None:
            ax.axhline(non, color="tab:blue", ls="--", lw=1, label="non-members")
        ax.axhline(privacy["exposure"]["chance_mean_exposure"], color="gray", ls=":", lw=1, label="chance")
        ax.axhline(math.log2(privacy["exposure"]["num_candidates"]), color="black", lw=0.8, label="ceiling log2(candidates)")
        ax.set_title(f"Exposure ({privacy['exposure']['num_candidates']} candidates)")
        ax.set_ylabel("mean exposure (bits)")
    if next_ax < panels:
        ax = axes[next_ax]
        for name, a in attacks.items():
            reps = a.get("by_repeats", {})
            xs = sorted(reps, key=int)
            ax.plot([int(x) for x in xs], [reps[x]["auc"]["value"] for x in xs], marker="o", label=name)
        ax.axhline(0.5, color="gray", ls=":", lw=1)
        ax.set_title("Membership inference AUC\n(members with these copies vs non-members)")
        ax.set_ylabel("AUC")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("training copies of the example")
        ax.legend(fontsize=8)
    fig.suptitle("Memorization against repetition\n" + subtitle(results), fontsize=11)
    fig.tight_layout()
    path = os.path.join(out_dir, "memorization_vs_repeats.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="?", help="memorization_results.json from test_memorization")
    ap.add_argument("--train_log", help="train_log.jsonl from train_gpt2/train_gpt2cu (with --mem_eval_every: "
                    "memorization against training step)")
    ap.add_argument("--output_dir", help="where the PNGs go (default: beside the results, else beside the log)")
    args = ap.parse_args()
    if not args.results and not args.train_log:
        print("plot_memorization.py: error: nothing to plot (pass test_memorization's RESULTS.json, --train_log "
              "train_log.jsonl, or both)", file=sys.stderr)
        sys.exit(1)
    results = None
    if args.results:
        try:
            with open(args.results, encoding="utf-8") as f:
                results = json.load(f)
            if not isinstance(results, dict) or "schema_version" not in results or "results" not in results:
                raise ValueError("not a test_memorization results file (no schema_version/results)")
        except (OSError, ValueError) as e:
            print(f"plot_memorization.py: error: {args.results}: {e} (pass the JSON written by test_memorization)",
                  file=sys.stderr)
            sys.exit(1)
        version = results["schema_version"]
        if isinstance(version, int) and version > SUPPORTED_SCHEMA:
            print(f"plot_memorization.py: error: {args.results}: schema_version {version} is newer than this "
                  f"plot_memorization.py knows ({SUPPORTED_SCHEMA}); update memlens", file=sys.stderr)
            sys.exit(1)
        if version != SUPPORTED_SCHEMA:
            print(f"plot_memorization.py: error: {args.results}: schema_version {version!r} is not one this "
                  f"plot_memorization.py knows ({SUPPORTED_SCHEMA}) (pass the JSON written by test_memorization)",
                  file=sys.stderr)
            sys.exit(1)
        if (not isinstance(results.get("results"), dict) or not isinstance(results.get("model"), dict)
                or not isinstance(results.get("context_lengths"), list)):
            print(f"plot_memorization.py: error: {args.results}: results, model or context_lengths missing or of the "
                  f"wrong type (pass the JSON written by test_memorization)", file=sys.stderr)
            sys.exit(1)
    if args.train_log and not os.path.exists(args.train_log):
        print(f"plot_memorization.py: error: {args.train_log} does not exist (pass train_gpt2's train_log.jsonl)",
              file=sys.stderr)
        sys.exit(1)
    if args.train_log:
        try:  # checked before anything is written
            with open(args.train_log, encoding="utf-8") as f:
                has_mem_eval = any(isinstance(json.loads(line).get("mem_eval"), dict) for line in f if line.strip())
        except (ValueError, AttributeError) as e:
            print(f"plot_memorization.py: error: {args.train_log}: not JSON lines ({e}) (pass the train_log.jsonl "
                  f"written by train_gpt2)", file=sys.stderr)
            sys.exit(1)
        except OSError as e:
            print(f"plot_memorization.py: error: {args.train_log}: cannot read it ({e.strerror}) (pass the "
                  f"train_log.jsonl written by train_gpt2)", file=sys.stderr)
            sys.exit(1)
        if not has_mem_eval and results is None:
            print(f"plot_memorization.py: error: {args.train_log} has no mem_eval rows (train with --mem_eval_every N "
                  f"to record memorization during training)", file=sys.stderr)
            sys.exit(1)
    out_dir = args.output_dir or os.path.dirname(os.path.abspath(args.results or args.train_log))
    written = []
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        print(f"plot_memorization.py: error: --output_dir {out_dir}: cannot create it ({e.strerror}) (pass a writable "
              f"directory)", file=sys.stderr)
        sys.exit(1)
    if results is not None:
        written += plot_results(results, out_dir)
        path = plot_repeats(results, out_dir)
        if path:
            written.append(path)
    if args.train_log:
        try:
            path = plot_training(args.train_log, out_dir)
            if path:
                written.append(path)
            mem_plot = plot_mem_eval(args.train_log, out_dir)
        except (ValueError, KeyError, IndexError, TypeError) as e:
            print(f"plot_memorization.py: error: {args.train_log}: malformed line ({e}) (pass the train_log.jsonl "
                  f"written by train_gpt2)", file=sys.stderr)
            sys.exit(1)
        if mem_plot:
            written.append(mem_plot)
    for p in written:
        print(p)


if __name__ == "__main__":
    main()
