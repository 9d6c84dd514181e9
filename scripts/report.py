#!/usr/bin/python3
"""Gathers the results of many memorization runs (a scripts/sweep.sh directory, or any directories
and results files) into one table and a set of comparison plots.

    /usr/bin/python3 scripts/report.py SWEEP_DIR [MORE_DIRS_OR_RESULT_FILES...] [--output_dir DIR]

Finds every results/memorization_results.json below the given directories (and the run's
sweep_point.json, written by sweep.sh and eval_checkpoints.sh, for the grid parameters or the step;
a point that has not finished, i.e. failed or still running, is left out with a line on stderr;
checkpoint_eval/ folders below a given directory are left out too, unless given themselves), and
writes to --output_dir (default: SWEEP_DIR/report):
  runs.csv, runs.md          one row per run and context length k: members' and non-members'
                             exact match, ID match, token accuracy, loss
  privacy.csv, privacy.md    one row per run: membership-inference AUC and TPR at 1% / 0.1% FPR
                             per attack, mean exposure of members and non-members
  exact_match_vs_k.png       members' exact match against k, one line per run
  vs_<parameter>.png         for every grid parameter that varies (parameters, epochs, learning_rate,
                             the training step of eval_checkpoints.sh): members' exact match (one line
                             per k) and the attacks' AUC against it, averaged over the other parameters
  repeats_<run>.png          runs with repeated examples: exact match and exposure against the
                             number of training copies (log x-axis), one line per k
Bad input (nothing found, an unreadable or foreign results file, a field of the wrong shape, no matplotlib)
stops with one line on stderr, before anything is written.
"""
import argparse
import csv
import glob
import json
import math
import os
import sys

SUPPORTED_SCHEMA = 1


def die(msg):
    print(f"report.py: error: {msg}", file=sys.stderr)
    sys.exit(2)


def load_json(path, what):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        die(f"{path}: cannot read the {what} ({e.strerror}); pass a readable file")
    except json.JSONDecodeError as e:
        die(f"{path}: the {what} is not JSON ({e.msg} at line {e.lineno}); rerun the step that wrote it")
    except UnicodeDecodeError:
        die(f"{path}: the {what} is not UTF-8 text; pass the JSON file memlens wrote")


def find_results(paths):
    found = []
    for p in paths:
        if os.path.isfile(p):
            found.append(p)
        elif os.path.isdir(p):
            below = glob.glob(os.path.join(p, "**", "memorization_results.json"), recursive=True)
            # eval_checkpoints.sh's folders (default MODEL_DIR/checkpoint_eval) are another kind of
            # point: inside a sweep they would mix intermediate checkpoints into its runs
            inner = {f for f in below if "checkpoint_eval" in os.path.relpath(f, p).split(os.sep)[:-1]}
            if inner:
                print(f"report.py: {len(inner)} results in checkpoint_eval/ folders below {p} not included "
                      "(scripts/eval_checkpoints.sh; give those folders themselves to report them)", file=sys.stderr)
            found += [f for f in below if f not in inner]
        else:
            die(f"{p}: no such file or directory (pass a sweep directory or results files)")
    return sorted(set(found))


def value(e):
    """The point estimate of an {value, ci_low, ci_high} object, or None."""
    if isinstance(e, dict):
        v = e.get("value")
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
    return None


def sub(d, *keys):
    """d[keys[0]][keys[1]]..., with a missing or null member (a split not evaluated, exposure turned
    off) read as an empty object."""
    for key in keys:
        d = d.get(key) if isinstance(d, dict) else None
        if d is None:
            return {}
    return d if isinstance(d, dict) else {}


def sweep_point(path):
    """The run directory of results file PATH and its sweep_point.json ({} when there is none)."""
    run_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    point_path = os.path.join(run_dir, "sweep_point.json")
    point = load_json(point_path, "sweep point") if os.path.exists(point_path) else {}
    if not isinstance(point, dict):
        die(f"{point_path}: not a sweep point (a JSON object); delete it and rerun that point with scripts/sweep.sh")
    return run_dir, point


def unfinished(run_dir, point):
    """Why the sweep.sh (or eval_checkpoints.sh) point in RUN_DIR is not complete (it failed, runs
    now, or runs again with another command, so its results may be an older command's), or None:
    complete, or not such a point at all."""
    if "command" not in point:
        return None
    try:
        with open(os.path.join(run_dir, ".sweep_done"), encoding="utf-8") as f:
            done = f.read().rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return f"{run_dir}: not finished (no .sweep_done: it failed or is running)"
    if done != point["command"]:
        return f"{run_dir}: being run again with another command (.sweep_done and sweep_point.json differ)"
    return None


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_schema(path, r):
    """Stops with one line naming PATH and the field when results file R lacks the shape this script
    reads (schema_version 1, as test_memorization writes it): config and model objects, a list of
    context lengths, per-split by_context_length objects of estimates, and the privacy objects."""
    def bad(field, why):
        die(f"{path}: {field} {why}; pass the memorization_results.json written by test_memorization (or rerun it)")

    def obj(d, field, name, nullable=False):
        v = d.get(name) if isinstance(d, dict) else None
        if v is None and nullable:
            return None
        if v is None and name not in d:
            bad(f"{field}", "is missing")
        if not isinstance(v, dict):
            bad(field, f"is not an object ({type(v).__name__} {json.dumps(v)[:40]})")
        return v

    def estimate(d, field, name):
        v = d.get(name)
        if v is None:
            return
        if not isinstance(v, dict):
            bad(f"{field}.{name}", f"is not an estimate object ({type(v).__name__} {json.dumps(v)[:40]})")
        if v.get("value") is not None and not is_number(v["value"]):
            bad(f"{field}.{name}.value", f"is not a number ({json.dumps(v['value'])[:40]})")

    def int_keys(d, field):
        for key in d:
            if not key.isdigit():
                bad(f"{field}", f"has the key {key!r}, not a whole number")

    obj(r, "config", "config")
    ks = r.get("context_lengths")
    if not isinstance(ks, list) or not all(isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in ks):
        bad("context_lengths", f"is not a list of positive whole numbers ({json.dumps(ks)[:40]})")
    model = obj(r, "model", "model")
    for name in ("num_layers", "channels", "num_parameters"):
        if not is_number(model.get(name)):
            bad(f"model.{name}", f"is not a number ({json.dumps(model.get(name))[:40]})")
    for split in ("train", "test"):
        s = obj(r["results"], f"results.{split}", split, nullable=True)
        if s is None:
            continue
        by_k = obj(s, f"results.{split}.by_context_length", "by_context_length")
        int_keys(by_k, f"results.{split}.by_context_length")
        for key, a in by_k.items():
            field = f"results.{split}.by_context_length.{key}"
            a = obj(by_k, field, key)
            for m in ("exact_match_rate", "id_match_rate", "token_accuracy", "loss"):
                estimate(a, field, m)
            reps = obj(a, f"{field}.by_repeats", "by_repeats", nullable=True)
            if reps:
                int_keys(reps, f"{field}.by_repeats")
                for x in reps:
                    estimate(obj(reps, f"{field}.by_repeats.{x}", x), f"{field}.by_repeats.{x}", "exact_match_rate")
    priv = obj(r, "privacy", "privacy", nullable=True)
    if priv is None:
        return
    mia = obj(priv, "privacy.membership_inference", "membership_inference", nullable=True)
    attacks = obj(mia, "privacy.membership_inference.attacks", "attacks", nullable=True) if mia is not None else None
    for a in (attacks or {}):
        field = f"privacy.membership_inference.attacks.{a}"
        att = obj(attacks, field, a)
        estimate(att, field, "auc")
        tpr = obj(att, f"{field}.tpr_at_fpr", "tpr_at_fpr", nullable=True)
        for b in (tpr or {}):
            estimate(tpr, f"{field}.tpr_at_fpr", b)
    exp = obj(priv, "privacy.exposure", "exposure", nullable=True)
    if exp is None:
        return
    if exp.get("num_candidates") is not None and not is_number(exp["num_candidates"]):
        bad("privacy.exposure.num_candidates", f"is not a number ({json.dumps(exp['num_candidates'])[:40]})")
    for split in ("train", "test"):
        e = obj(exp, f"privacy.exposure.{split}", split, nullable=True)
        if e is None:
            continue
        for m in ("mean_exposure", "mean_exposure_estimate"):
            estimate(e, f"privacy.exposure.{split}", m)
        reps = obj(e, f"privacy.exposure.{split}.by_repeats", "by_repeats", nullable=True)
        if reps:
            int_keys(reps, f"privacy.exposure.{split}.by_repeats")
            for x in reps:
                field = f"privacy.exposure.{split}.by_repeats.{x}"
                o = obj(reps, field, x)
                for m in ("mean_exposure", "mean_exposure_estimate"):
                    estimate(o, field, m)


def load_run(path, run_dir, point):
    r = load_json(path, "results file")
    if not isinstance(r, dict) or "schema_version" not in r or not isinstance(r.get("results"), dict):
        die(f"{path}: not a test_memorization results file (no schema_version/results); pass memorization_results.json files")
    version = r["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool):
        die(f"{path}: schema_version {version!r} is not a version number; pass the JSON written by test_memorization")
    if version > SUPPORTED_SCHEMA:
        die(f"{path}: schema_version {version} is newer than this report.py knows ({SUPPORTED_SCHEMA}); update memlens")
    check_schema(path, r)
    model = r["model"]
    return {
        "path": path,
        "run": point.get("run", os.path.basename(run_dir)),
        "model": point.get("model", f"L{model.get('num_layers')}-C{model.get('channels')}"),
        "layers": model.get("num_layers"),
        "channels": model.get("channels"),
        "parameters": model.get("num_parameters"),
        "epochs": point.get("epochs"),
        "learning_rate": point.get("learning_rate"),
        "duplicates": point.get("duplicates"),
        "step": point.get("step"),
        "results": r,
    }


def per_k_rows(run):
    res = run["results"]
    train = sub(res, "results", "train", "by_context_length")
    test = sub(res, "results", "test", "by_context_length")
    rows = []
    for key in sorted(set(train) | set(test), key=int):
        a, b = train.get(key) or {}, test.get(key) or {}
        rows.append({
            "run": run["run"], "model": run["model"], "parameters": run["parameters"], "epochs": run["epochs"],
            "learning_rate": run["learning_rate"], "duplicates": run["duplicates"] or "none", "step": run["step"], "k": int(key),
            "members_exact_match": value(a.get("exact_match_rate")), "non_members_exact_match": value(b.get("exact_match_rate")),
            "members_id_match": value(a.get("id_match_rate")), "non_members_id_match": value(b.get("id_match_rate")),
            "members_token_accuracy": value(a.get("token_accuracy")), "non_members_token_accuracy": value(b.get("token_accuracy")),
            "members_loss": value(a.get("loss")), "non_members_loss": value(b.get("loss")),
        })
    return rows


ATTACKS = ("loss", "zlib", "min_k_10", "min_k_20")


def privacy_row(run):
    mia = sub(run["results"], "privacy", "membership_inference", "attacks")
    exp = sub(run["results"], "privacy", "exposure")
    row = {"run": run["run"], "model": run["model"], "parameters": run["parameters"], "epochs": run["epochs"],
           "learning_rate": run["learning_rate"], "duplicates": run["duplicates"] or "none", "step": run["step"]}
    for a in ATTACKS:
        att = mia.get(a) or {}
        row[f"auc_{a}"] = value(att.get("auc"))
        row[f"tpr_at_1pct_fpr_{a}"] = value(sub(att, "tpr_at_fpr", "0.01"))
        row[f"tpr_at_0.1pct_fpr_{a}"] = value(sub(att, "tpr_at_fpr", "0.001"))
    for split, name in (("train", "members"), ("test", "non_members")):
        row[f"{name}_exposure"] = value(sub(exp, split, "mean_exposure"))
        row[f"{name}_exposure_estimate"] = value(sub(exp, split, "mean_exposure_estimate"))
    row["exposure_candidates"] = exp.get("num_candidates")
    return row


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def write_table(rows, stem, out_dir):
    if not rows:
        return []
    cols = list(rows[0].keys())
    for path in (f"{out_dir}/{stem}.csv", f"{out_dir}/{stem}.md"):
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as f:
            if path.endswith(".csv"):
                w = csv.DictWriter(f, fieldnames=cols)
                w.writeheader()
                for r in rows:
                    w.writerow({c: "" if r[c] is None else r[c] for c in cols})
            else:
                f.write("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n")
                for r in rows:
                    f.write("| " + " | ".join(fmt(r[c]) for c in cols) + " |\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return [f"{out_dir}/{stem}.csv", f"{out_dir}/{stem}.md"]


def save(fig, path):
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110, bbox_inches="tight")
    os.replace(tmp, path)


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def import_pyplot():
    """matplotlib.pyplot (Agg), imported before anything is written: without it, one line and no files."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        die("matplotlib is missing: run it with /usr/bin/python3 or install python3-matplotlib")
    return plt


def plots(plt, runs, k_rows, priv_rows, out_dir):
    written = []
    # 1. exact match against k
    fig, ax = plt.subplots(figsize=(8, 5))
    for run in runs:
        rows = [r for r in k_rows if r["run"] == run["run"] and r["members_exact_match"] is not None]
        ax.plot([r["k"] for r in rows], [r["members_exact_match"] for r in rows], marker="o", label=run["run"])
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length k (tokens)")
    ax.set_ylabel("members' exact match rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Memorization by run")
    ax.legend(fontsize=7)
    path = f"{out_dir}/exact_match_vs_k.png"
    save(fig, path); plt.close(fig); written.append(path)
    # 2. each varying grid parameter
    for param, label, log in (("parameters", "model parameters", True), ("epochs", "epochs", False),
                              ("learning_rate", "learning rate", True), ("step", "training step", False)):
        values = sorted({r[param] for r in runs if r[param] is not None})
        if len(values) < 2:
            continue
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        for k in sorted({r["k"] for r in k_rows}):
            ys = [mean(r["members_exact_match"] for r in k_rows if r["k"] == k and r[param] == v) for v in values]
            ax1.plot(values, ys, marker="o", label=f"k={k}")
        for a in ATTACKS:
            ys = [mean(r[f"auc_{a}"] for r in priv_rows if r[param] == v) for v in values]
            if any(y is not None for y in ys):
                ax2.plot(values, ys, marker="o", label=a)
        for ax in (ax1, ax2):
            ax.set_xlabel(label)
            if log:
                ax.set_xscale("log")
        ax1.set_ylabel("members' exact match rate (mean over other parameters)")
        ax1.legend(fontsize=7)
        ax2.axhline(0.5, color="gray", lw=0.8, ls="--")
        ax2.set_ylabel("membership-inference AUC")
        if ax2.lines[1:]:
            ax2.legend(fontsize=7)
        path = f"{out_dir}/vs_{param}.png"
        save(fig, path); plt.close(fig); written.append(path)
    # 3. repetition, per run with repeated examples
    for run in runs:
        by_k = sub(run["results"], "results", "train", "by_context_length")
        if not any(len(sub(a, "by_repeats")) > 1 for a in by_k.values()):
            continue
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        for key in sorted(by_k, key=int):
            reps = sub(by_k, key, "by_repeats")
            xs = sorted(reps, key=int)
            ys = [value(sub(reps, x).get("exact_match_rate")) for x in xs]
            ax1.plot([int(x) for x in xs], [float("nan") if y is None else y for y in ys], marker="o", label=f"k={key}")
        ax1.set_ylabel("members' exact match rate")
        exp = sub(run["results"], "privacy", "exposure", "train", "by_repeats")
        if exp:
            xs = sorted(exp, key=int)
            for metric, marker, label in (("mean_exposure", "o", "exposure (rank)"), ("mean_exposure_estimate", "s", "exposure (skew-normal)")):
                ys = [value(sub(exp, x).get(metric)) for x in xs]
                ax2.plot([int(x) for x in xs], [float("nan") if y is None else y for y in ys], marker=marker, label=label)
            chance = sub(run["results"], "privacy", "exposure", "test").get("mean_exposure")
            if value(chance) is not None:
                ax2.axhline(value(chance), color="gray", ls="--", lw=0.8, label="non-members")
            ax2.legend(fontsize=7)
        ax2.set_ylabel("mean exposure (bits)")
        for ax in (ax1, ax2):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("training copies of the example")
        ax1.legend(fontsize=7)
        fig.suptitle(run["run"])
        path = f"{out_dir}/repeats_{run['run']}.png"
        save(fig, path); plt.close(fig); written.append(path)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", help="sweep directories, run directories or memorization_results.json files")
    ap.add_argument("--output_dir", help="where the tables and plots go (default: FIRST_PATH/report)")
    args = ap.parse_args()
    files = find_results(args.paths)
    if not files:
        die(f"no memorization_results.json below {', '.join(args.paths)} (run scripts/sweep.sh first)")
    runs, left_out = [], 0
    for f in files:
        run_dir, point = sweep_point(f)
        why = unfinished(run_dir, point)
        if why:
            print(f"report.py: left out {why}; finish it with the script that made it (sweep.sh, eval_checkpoints.sh)", file=sys.stderr)
            left_out += 1
        else:
            runs.append(load_run(f, run_dir, point))
    if not runs:
        die(f"no complete run below {', '.join(args.paths)} ({left_out} left out, see above)")
    runs.sort(key=lambda r: (str(r["model"]), r["parameters"] or 0, r["epochs"] or 0, r["learning_rate"] or 0, str(r["duplicates"]),
                             r["step"] or 0))
    plt = import_pyplot()
    first = args.paths[0] if os.path.isdir(args.paths[0]) else os.path.dirname(args.paths[0]) or "."
    out_dir = args.output_dir or os.path.join(first, "report")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        die(f"--output_dir: cannot create {out_dir} ({e.strerror}); pass a writable directory")
    k_rows = [row for run in runs for row in per_k_rows(run)]
    priv_rows = [privacy_row(run) for run in runs]
    for run, row in zip(runs, priv_rows):
        run.update({k: row[k] for k in row if k.startswith("auc_")})
    written = write_table(k_rows, "runs", out_dir) + write_table(priv_rows, "privacy", out_dir)
    written += plots(plt, runs, k_rows, priv_rows, out_dir)
    print(f"report.py: {len(runs)} runs -> {out_dir}/")
    for w in written:
        print(f"  {w}")


if __name__ == "__main__":
    main()
