#!/usr/bin/env bash
# Privacy-audit metrics (llmc/mia.c, llmc/exposure.c), their use in test_memorization, the sweep
# and report scripts, and a check of the science: a tiny model trained on examples repeated
# 1, 4 and 16 times must memorize more of the more repeated ones.
# Oracles: scikit-learn (ROC, AUC), scipy (skew-normal), Python's zlib and numpy, and a Python
# replay of the seeded bootstrap; the KV-cache candidate scoring is checked against the model's
# full forward pass in build/tests/test_mia_unit.
source "$(dirname "$0")/lib.sh"
UNIT=build/tests/test_mia_unit

echo "== unit tests (properties; KV-cache scoring against the full forward pass)"
check "test_mia_unit" $UNIT
if [ -x build/tests/asan/test_mia_unit ]; then check "test_mia_unit under ASan/UBSan" build/tests/asan/test_mia_unit
else skip "build/tests/asan/test_mia_unit not built (make asan-tests)"; fi

echo "== ROC, AUC, TPR at FPR and bootstrap intervals against scikit-learn"
cat > "$TMP/oracle_roc.py" <<'EOF'
import json, subprocess, sys
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve
binary, scores_file, resamples, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = np.loadtxt(scores_file).reshape(-1, 2)
scores, labels = data[:, 0], data[:, 1].astype(int)
got = json.loads(subprocess.run([binary, "--roc", scores_file, str(resamples), str(seed)], check=True, capture_output=True, text=True).stdout)
fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
assert len(fpr) == len(got["fpr"]), (len(fpr), len(got["fpr"]))
assert np.allclose(fpr, got["fpr"], atol=1e-12) and np.allclose(tpr, got["tpr"], atol=1e-12), "ROC points differ"
auc = roc_auc_score(labels, scores)
assert abs(auc - got["auc"]) < 1e-12, (auc, got["auc"])
assert abs(auc - got["auc_estimate"]["value"]) < 1e-12
def tpr_at(f, t, budget):  # the conservative step: best TPR with FPR <= budget
    return max(tt for ff, tt in zip(f, t) if ff <= budget + 1e-12)
M = 2**64 - 1
state = seed
def nxt():  # splitmix64, as llmc/stats.c
    global state
    state = (state + 0x9E3779B97F4A7C15) & M
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)
mem, non = scores[labels == 1], scores[labels == 0]
aucs, tprs = [], {b: [] for b in (0.01, 0.001, 0.1)}
for _ in range(resamples):
    m = np.array([mem[nxt() % len(mem)] for _ in range(len(mem))])
    n = np.array([non[nxt() % len(non)] for _ in range(len(non))])
    s = np.concatenate([m, n]); y = np.r_[np.ones(len(m)), np.zeros(len(n))]
    aucs.append(roc_auc_score(y, s))
    f, t, _ = roc_curve(y, s, drop_intermediate=False)
    for b in tprs: tprs[b].append(tpr_at(f, t, b))
lo, hi = np.quantile(aucs, [0.025, 0.975])
assert abs(lo - got["auc_estimate"]["ci_low"]) < 1e-12 and abs(hi - got["auc_estimate"]["ci_high"]) < 1e-12, (lo, hi, got["auc_estimate"])
assert sorted(item["fpr"] for item in got["tpr_at"]) == [0.001, 0.01, 0.1], got["tpr_at"]  # every budget, none missing
for item in got["tpr_at"]:
    b = item["fpr"]
    assert abs(item["value"] - tpr_at(fpr, tpr, b)) < 1e-12, (b, item, tpr_at(fpr, tpr, b))
    lo, hi = np.quantile(tprs[b], [0.025, 0.975])
    assert abs(lo - item["ci_low"]) < 1e-12 and abs(hi - item["ci_high"]) < 1e-12, (b, lo, hi, item)
print(f"ok: {len(scores)} scores, {len(fpr)} ROC points, AUC {auc:.6f}")
EOF
$PY - "$TMP" <<'EOF'
import sys
import numpy as np
tmp = sys.argv[1]
rng = np.random.default_rng(3)
# many ties, within and across classes (scores rounded to one decimal)
m = np.round(rng.normal(0.7, 1, 120), 1); n = np.round(rng.normal(0, 1, 150), 1)
np.savetxt(f"{tmp}/tied.txt", np.c_[np.r_[m, n], np.r_[np.ones(120), np.zeros(150)]], fmt="%.17g")
# continuous, unbalanced, enough non-members for a 1% FPR budget to bite
m = rng.normal(1.0, 1, 80); n = rng.normal(0, 1, 400)
np.savetxt(f"{tmp}/continuous.txt", np.c_[np.r_[m, n], np.r_[np.ones(80), np.zeros(400)]], fmt="%.17g")
# a perfect separation and a constant score
np.savetxt(f"{tmp}/perfect.txt", np.c_[np.r_[np.arange(10) + 100.0, np.arange(12) * 1.0], np.r_[np.ones(10), np.zeros(12)]], fmt="%.17g")
np.savetxt(f"{tmp}/constant.txt", np.c_[np.ones(9), np.r_[np.ones(4), np.zeros(5)]], fmt="%.17g")
EOF
for f in tied continuous perfect constant; do
  check "ROC/AUC/TPR@FPR and bootstrap match sklearn + replay: $f scores" $PY "$TMP/oracle_roc.py" $UNIT "$TMP/$f.txt" 100 $((RANDOM + 1))
done

echo "== skew-normal fit and tail against scipy"
cat > "$TMP/oracle_skewnorm.py" <<'EOF'
import json, subprocess, sys
import numpy as np
from scipy import integrate, stats
binary, tmp = sys.argv[1], sys.argv[2]
def run(*args):
    return json.loads(subprocess.run([binary, *map(str, args)], check=True, capture_output=True, text=True).stdout)
for a, loc, scale in [(4.0, -30.0, 3.0), (-2.5, -12.0, 0.7), (0.0, 1.0, 2.0)]:
    x = stats.skewnorm.rvs(a, loc=loc, scale=scale, size=20000, random_state=7)
    np.savetxt(f"{tmp}/sample.txt", x, fmt="%.17g")
    got = run("--skewnorm_fit", f"{tmp}/sample.txt")
    # the fitted distribution has the sample's mean, variance and skewness (method of moments)...
    mean, var, skew = stats.skewnorm.stats(got["shape"], loc=got["location"], scale=got["scale"], moments="mvs")
    assert abs(mean - x.mean()) < 1e-6 * (1 + abs(x.mean())), (mean, x.mean())
    assert abs(var - x.var()) < 1e-6 * x.var(), (var, x.var())
    assert abs(skew - stats.skew(x)) < 1e-4, (skew, stats.skew(x))
    # ...agrees with scipy's own method-of-moments fit, and recovers the generating parameters
    a_mm, loc_mm, scale_mm = stats.skewnorm.fit(x, method="MM")
    assert abs(got["location"] - loc_mm) < 1e-2 * scale and abs(got["scale"] - scale_mm) < 1e-2 * scale, (got, loc_mm, scale_mm)
    if a != 0.0:  # near shape 0 the sample skewness is noise amplified by a cube root
        assert abs(got["shape"] - a) < 0.35 * abs(a), (got["shape"], a)
        assert abs(got["scale"] - scale) < 0.05 * scale and abs(got["location"] - loc) < 0.1 * scale, (got, loc, scale)
    xs = loc + scale * np.array([-3.0, -1.0, 0.0, 0.5, 2.0, 4.0, 6.0])
    want = stats.skewnorm.logsf(xs, a, loc=loc, scale=scale)
    out = run("--skewnorm_logsf", loc, scale, a, *xs)
    assert len(out) == len(xs), (len(out), len(xs))  # zip would stop at a short output
    for w, g, xx in zip(want, out, xs):
        if w > np.log(1e-12):  # where scipy's sf is accurate
            assert abs(w - g) < 1e-6 * (1 + abs(w)), (a, xx, w, g)
# far tail: shape 1 has CDF Phi(z)^2, so log sf = norm.logsf(z) + log(1 + Phi(z)) exactly
zs = [5.0, 12.0, 30.0, 80.0]
out = run("--skewnorm_logsf", 0, 1, 1, *zs)
assert len(out) == len(zs), (len(out), len(zs))
for z, g in zip(zs, out):
    w = stats.norm.logsf(z) + np.log1p(stats.norm.cdf(z))
    assert abs(w - g) < 1e-6 * abs(w), (z, w, g)
# a negative shape far out: scipy's quadrature of the density, scaled to avoid underflow
for z in [3.0, 6.0]:
    val, _ = integrate.quad(lambda t: stats.skewnorm.pdf(t, -3.0) / stats.skewnorm.pdf(z, -3.0), z, z + 20, epsabs=0, epsrel=1e-12, limit=200)
    w = np.log(val) + stats.skewnorm.logpdf(z, -3.0)
    g = run("--skewnorm_logsf", 0, 1, -3.0, z)[0]
    assert abs(w - g) < 1e-6 * abs(w), (z, w, g)
print("ok")
EOF
check "skew-normal fit = scipy method of moments; log P(X >= x) = scipy to 1e-6, far tail included" $PY "$TMP/oracle_skewnorm.py" $UNIT "$TMP"

echo "== per-example scores: zlib size against Python's zlib, min-k% against numpy"
printf 'The quick brown fox jumps over the lazy dog. %.0s' $(seq 40) > "$TMP/z1.txt"
printf '[SYNTHETIC_EXAMPLE_04211]\nCaf\xc3\xa9 \xe2\x82\xac 12 \xf0\x9f\x99\x82 na\xc3\xafve\n' > "$TMP/z2.txt"
head -c 3000 /dev/urandom > "$TMP/z3.txt"
: > "$TMP/z4.txt"
for f in z1 z2 z3 z4; do
  check "zlib size of $f = len(zlib.compress(bytes))" \
    $PY -c "import sys, zlib, subprocess; want = len(zlib.compress(open(sys.argv[2], 'rb').read())); got = int(subprocess.check_output([sys.argv[1], '--zlib', sys.argv[2]])); assert got == want, (got, want)" $UNIT "$TMP/$f.txt"
done
$PY -c "import numpy as np; np.savetxt('$TMP/nll.txt', np.random.default_rng(5).gamma(2.0, 1.5, 97), fmt='%.6f')"
for k in 0.1 0.2 0.5 1.0 0.001; do
  check "min-k% log-probability, k = $k, = numpy" \
    $PY -c "
import sys, subprocess, numpy as np
nll = np.loadtxt(sys.argv[2]).astype(np.float32); k = float(sys.argv[3])
count = max(1, int(np.floor(k * len(nll))))
want = -np.sort(nll)[::-1][:count].astype(np.float64).mean()
got = float(subprocess.check_output([sys.argv[1], '--min_k', sys.argv[2], sys.argv[3]]))
assert abs(got - want) < 1e-6 * (1 + abs(want)), (got, want)" $UNIT "$TMP/nll.txt" $k
done

echo "== scripts/sweep.sh: grid, names and bad input"
check "sweep --list: 2 models x 2 epochs x 2 learning rates x 2 schedules = 16 runs" \
  bash -c "[ \$(scripts/sweep.sh --sweep_dir $TMP/grid --models d2,L1-C64-H2 --epochs 1,3 --learning_rates 1e-3,5e-3 --repeats 'none;1:6,4:*' --list | wc -l) -eq 16 ]"
check "sweep --list: run directories name every parameter" \
  bash -c "scripts/sweep.sh --sweep_dir $TMP/grid --models d2 --epochs 3 --learning_rates 5e-3 --repeats '1:6,4:*' --list | grep -q \"$TMP/grid/model-d2_ep-3_lr-5e-3_rep-1x6-4xrest\"$'\t'.*\"--duplicates '1:6,4:\\*'\""
check "sweep --list: an L-C-H model trains from scratch through --train_args (quoted)" \
  bash -c "scripts/sweep.sh --models L1-C64-H2 --list | grep -q -- \"--train_args '--layers 1 --channels 64 --heads 2'\""
expect_error "sweep: malformed --repeats" "sweep.sh: error: --repeats: '1:6x'" scripts/sweep.sh --repeats '1:6x' --list
expect_error "sweep: bad --epochs" "sweep.sh: error: --epochs: 'three'" scripts/sweep.sh --epochs three --list
expect_error "sweep: bad --learning_rates" "sweep.sh: error: --learning_rates: 'fast'" scripts/sweep.sh --learning_rates 1e-3,fast --list
expect_error "sweep: --task_index outside the grid" "sweep.sh: error: --task_index '2' is outside the grid of 2 runs" scripts/sweep.sh --epochs 1,2 --task_index 2
expect_error "sweep: unknown flag" "sweep.sh: error: unknown argument '--epoch'" scripts/sweep.sh --epoch 3
expect_error "sweep: bad --preset" "sweep.sh: error: --preset 'gpu'" scripts/sweep.sh --preset gpu --list
expect_error "sweep: L-C-H model with a --train_args of one's own" "sweep.sh: error: --models: the architecture L1-C64-H2" \
  scripts/sweep.sh --models L1-C64-H2 --list -- --train_args "--weight_decay 0"

echo "== the science: a tiny model, examples repeated 1, 4 and 16 times (a one-point sweep)"
SW=$TMP/sweep
sweep_args=(--sweep_dir "$SW" --models L1-C64-H2 --epochs 4 --learning_rates 2e-2 --repeats '1:10,4:10,16:10' --
  --num_examples 40 --tokens_per_example 64 --train_ratio 0.75 --batch_size 8 --eval_examples 0
  --context_lengths 4,8,16,32 --max_new_tokens 16 --threads 2 --seed 7
  --eval_args "--exposure_candidates 1000 --bootstrap_samples 200")
check "sweep: generate, train and evaluate one grid point" scripts/sweep.sh "${sweep_args[@]}"
RUN=$(ls -d "$SW"/model-* 2>/dev/null | head -1)
RES=$RUN/results/memorization_results.json
check "sweep: a rerun skips the complete run" bash -c "scripts/sweep.sh $(printf '%q ' "${sweep_args[@]}") | grep -q 'complete, skipped'"
check "sweep: the grid point is recorded beside the run" \
  $PY -c "import json, sys; p = json.load(open(sys.argv[1])); assert p['epochs'] == 4 and p['learning_rate'] == 0.02 and p['duplicates'] == '1:10,4:10,16:10', p" "$RUN/sweep_point.json"

cat > "$TMP/science.py" <<'EOF'
import json, math, sys
import numpy as np
r = json.load(open(sys.argv[1]))
what = sys.argv[2]
by_k = r["results"]["train"]["by_context_length"]
priv = r["privacy"]
if what == "exact":  # summed over k: 16 copies > 1 copy, and never decreasing 1 -> 4 -> 16
    tot = {rep: sum(a["by_repeats"][rep]["exact_match_rate"]["value"] for a in by_k.values()) for rep in ("1", "4", "16")}
    print(tot)
    assert tot["16"] > tot["1"] and tot["1"] <= tot["4"] <= tot["16"], tot
elif what == "exposure":
    br = priv["exposure"]["train"]["by_repeats"]
    e = {rep: br[rep]["mean_exposure"]["value"] for rep in ("1", "4", "16")}
    est = {rep: br[rep]["mean_exposure_estimate"]["value"] for rep in ("1", "4", "16")}
    print(e, est)
    # the rank-based exposure saturates at log2(candidates) once every copy count reaches rank 1;
    # the skew-normal estimate extrapolates beyond that ceiling and must rise strictly
    assert e["1"] <= e["4"] <= e["16"], e
    assert est["1"] < est["4"] < est["16"], est
    assert e["1"] > priv["exposure"]["test"]["mean_exposure"]["value"] + 1.0
elif what == "auc":
    auc = priv["membership_inference"]["attacks"]["loss"]["auc"]
    print(auc)
    assert auc["value"] > 0.5 and auc["ci_low"] > 0.5, auc
elif what == "chance":
    ex = priv["exposure"]
    n = ex["num_candidates"]
    chance = math.log2(n) - math.lgamma(n + 1) / (n * math.log(2))
    assert abs(ex["chance_mean_exposure"] - chance) < 1e-9
    m = ex["test"]["mean_exposure"]["value"]
    k = ex["test"]["num_examples"]
    # exposure of a uniform rank is about exponential with mean and sd 1/ln 2: 3.5 standard errors
    print(m, chance, k)
    assert k == 10 and abs(m - chance) < 3.5 * (1 / math.log(2)) / math.sqrt(k), (m, chance)
EOF
check "science: exact match rises with repeats (1 < 16, never decreasing)" $PY "$TMP/science.py" "$RES" exact
check "science: exposure rises with repeats (rank-based never falls, skew-normal estimate rises; above non-members)" $PY "$TMP/science.py" "$RES" exposure
check "science: members vs non-members AUC (loss attack) above 0.5, interval too" $PY "$TMP/science.py" "$RES" auc
check "science: non-members' mean exposure is at the chance level" $PY "$TMP/science.py" "$RES" chance

echo "== test_memorization's privacy results against scikit-learn on its own per-example scores"
cat > "$TMP/privacy_oracle.py" <<'EOF'
import json, math, sys
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve
r = json.load(open(sys.argv[1]))
recs = [json.loads(l) for l in open(r["records_file"])]
assert r["schema_version"] == 1
first = {}
for x in recs:  # one record per (example, k): the audit fields are per example
    first.setdefault((x["split"], x["example_id"]), x)
    f = first[(x["split"], x["example_id"])]
    for key in ("mia_loss", "mia_zlib_ratio", "mia_min_k_10", "mia_min_k_20", "exposure", "exposure_rank"):
        assert f[key] == x[key], (key, f[key], x[key])
ex = list(first.values())
score = {"loss": lambda x: -x["mia_loss"], "zlib": lambda x: -x["mia_zlib_ratio"],
         "min_k_10": lambda x: x["mia_min_k_10"], "min_k_20": lambda x: x["mia_min_k_20"]}
mia = r["privacy"]["membership_inference"]
assert mia["num_members"] == sum(x["member"] for x in ex) and mia["num_non_members"] == sum(not x["member"] for x in ex)
for name, f in score.items():
    y = np.array([x["member"] for x in ex], dtype=int)
    s = np.array([f(x) for x in ex])
    a = mia["attacks"][name]
    assert abs(a["auc"]["value"] - roc_auc_score(y, s)) < 1e-12, (name, a["auc"], roc_auc_score(y, s))
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, a["roc"]["fpr"], atol=1e-12) and np.allclose(tpr, a["roc"]["tpr"], atol=1e-12), name
    for budget in ("0.01", "0.001"):
        want = max(t for fp, t in zip(fpr, tpr) if fp <= float(budget) + 1e-12)
        assert abs(a["tpr_at_fpr"][budget]["value"] - want) < 1e-12, (name, budget)
    assert a["by_repeats"], name  # the dataset has repeats: an empty breakdown would check nothing
    for rep, g in a["by_repeats"].items():
        sel = [x for x in ex if not x["member"] or x["repeats"] == int(rep)]
        ys = np.array([x["member"] for x in sel], dtype=int)
        assert g["num_members"] == ys.sum()
        assert abs(g["auc"]["value"] - roc_auc_score(ys, [f(x) for x in sel])) < 1e-12, (name, rep)
# exposure: formula, range, and the per-split means
N = r["privacy"]["exposure"]["num_candidates"]
for x in ex:
    assert 1 <= x["exposure_rank"] <= x["exposure_candidates"] <= N
    assert abs(x["exposure"] - (math.log2(x["exposure_candidates"]) - math.log2(x["exposure_rank"]))) < 1e-9
for split, member in (("train", True), ("test", False)):
    vals = [x["exposure"] for x in ex if x["member"] == member]
    assert abs(r["privacy"]["exposure"][split]["mean_exposure"]["value"] - np.mean(vals)) < 1e-9
print("ok:", {n: round(mia["attacks"][n]["auc"]["value"], 4) for n in score})
EOF
check "privacy: AUC, ROC points, TPR at FPR (all and by repeats) = sklearn on the jsonl scores; exposure formula" \
  $PY "$TMP/privacy_oracle.py" "$RES"

D=$RUN/data
M=$RUN/model/model.bin
tm_small=(./test_memorization --model_path "$M" --train_file "$D/train.bin" --test_file "$D/test.bin" --metadata_file "$D/metadata.json"
  --num_examples 6 --context_lengths 8 --max_new_tokens 8 --exposure_candidates 100 --bootstrap_samples 50)
check "privacy: results do not depend on the thread count" bash -c "
  ${tm_small[*]} --threads 1 --output_file $TMP/t1.json 2>/dev/null && ${tm_small[*]} --threads 2 --output_file $TMP/t2.json 2>/dev/null &&
  $PY -c \"import json; a, b = (json.load(open(f))['privacy'] for f in ('$TMP/t1.json', '$TMP/t2.json')); assert a == b\""
check "privacy: --exposure_candidates 0 turns exposure off (membership inference stays)" bash -c "
  ${tm_small[*]} --exposure_candidates 0 --output_file $TMP/t0.json 2>/dev/null &&
  $PY -c \"import json; r = json.load(open('$TMP/t0.json')); assert r['privacy']['exposure'] is None and r['privacy']['membership_inference']['attacks']['loss']['auc']['value'] is not None\""
for bad in 1 -5 ten 100001; do
  expect_error "test_memorization: --exposure_candidates $bad" "test_memorization: error: --exposure_candidates: '$bad'" \
    "${tm_small[@]}" --exposure_candidates "$bad" --output_file "$TMP/bad.json"
done
expect_error "test_memorization: --exposure_context prefix" "test_memorization: error: --exposure_context: 'prefix'" \
  "${tm_small[@]}" --exposure_context prefix --output_file "$TMP/bad.json"
check "test_memorization: nothing written after a bad exposure flag" test ! -e "$TMP/bad.json"
check "privacy: the exposure context is recorded (body by default, full on request)" bash -c "
  ${tm_small[*]} --exposure_context full --output_file $TMP/tf.json 2>/dev/null &&
  $PY -c \"import json; assert json.load(open('$TMP/t1.json'))['privacy']['exposure']['context'] == 'body' and json.load(open('$TMP/tf.json'))['privacy']['exposure']['context'] == 'full'\""

echo "== scripts/report.py: one table and the plots from the sweep"
check "report: tables and plots written" $PY scripts/report.py "$SW" --output_dir "$TMP/report"
cat > "$TMP/report_oracle.py" <<'EOF'
import csv, json, sys
report, res = sys.argv[1], json.load(open(sys.argv[2]))
rows = list(csv.DictReader(open(f"{report}/runs.csv")))
by_k = res["results"]["train"]["by_context_length"]
assert len(rows) == len(by_k), (len(rows), len(by_k))
for row in rows:
    a = by_k[row["k"]]
    assert abs(float(row["members_exact_match"]) - a["exact_match_rate"]["value"]) < 1e-12
    assert abs(float(row["non_members_loss"]) - res["results"]["test"]["by_context_length"][row["k"]]["loss"]["value"]) < 1e-12
    assert row["epochs"] == "4" and row["duplicates"] == "1:10,4:10,16:10", row
priv = list(csv.DictReader(open(f"{report}/privacy.csv")))
assert len(priv) == 1
p = res["privacy"]
assert abs(float(priv[0]["auc_zlib"]) - p["membership_inference"]["attacks"]["zlib"]["auc"]["value"]) < 1e-12
assert abs(float(priv[0]["members_exposure"]) - p["exposure"]["train"]["mean_exposure"]["value"]) < 1e-12
md = open(f"{report}/runs.md").read().splitlines()
assert md[0].startswith("| run |") and len(md) == 2 + len(rows)
for png in ("exact_match_vs_k.png", f"repeats_{priv[0]['run']}.png"):
    assert open(f"{report}/{png}", "rb").read(8) == b"\x89PNG\r\n\x1a\n", png
print("ok")
EOF
check "report: CSV and Markdown rows carry the results' values; PNGs are PNGs" $PY "$TMP/report_oracle.py" "$TMP/report" "$RES"
mkdir -p "$TMP/empty" "$TMP/broken/r/results"
echo '{"schema_version": 1, "results": ' > "$TMP/broken/r/results/memorization_results.json"
expect_error "report: a directory without results" "report.py: error: no memorization_results.json below" $PY scripts/report.py "$TMP/empty"
expect_error "report: a truncated results file" "report.py: error: .*memorization_results.json: the results file is not JSON" $PY scripts/report.py "$TMP/broken"
expect_error "report: a missing path" "report.py: error: $TMP/nope: no such file" $PY scripts/report.py "$TMP/nope"
# malformed files are one line each, never a traceback
mkdir -p "$TMP/odd1/r/results" "$TMP/odd2/r/results" "$TMP/odd3/r/results"
echo '{"schema_version": "1", "results": {}}' > "$TMP/odd1/r/results/memorization_results.json"
printf '{"schema_version": 1, "results": {"train": "\xff"}}' > "$TMP/odd2/r/results/memorization_results.json"
echo '{"schema_version": 1, "results": []}' > "$TMP/odd3/r/results/memorization_results.json"
expect_error "report: a schema_version that is not a number" "report.py: error: .*schema_version '1' is not a version number" $PY scripts/report.py "$TMP/odd1"
expect_error "report: a results file that is not UTF-8" "report.py: error: .*is not UTF-8 text" $PY scripts/report.py "$TMP/odd2"
expect_error "report: results that are a list" "report.py: error: .*not a test_memorization results file" $PY scripts/report.py "$TMP/odd3"
# results of the wrong inner shape: one line naming the file and the field, no rc 0 with an empty table, nothing written
$PY - "$RES" "$TMP/shape" <<'EOF'
import json, os, sys
res, out = json.load(open(sys.argv[1])), sys.argv[2]
def variant(name, change):
    r = json.loads(json.dumps(res)); change(r)
    os.makedirs(f"{out}/{name}/results", exist_ok=True)
    json.dump(r, open(f"{out}/{name}/results/memorization_results.json", "w"))
variant("splits", lambda r: r.__setitem__("results", {"train": "x", "test": [1]}))
variant("ks", lambda r: r.__setitem__("context_lengths", "8,16"))
variant("config", lambda r: r.pop("config"))
variant("loss", lambda r: next(iter(r["results"]["train"]["by_context_length"].values())).__setitem__("loss", {"value": "low"}))
variant("attack", lambda r: r["privacy"]["membership_inference"]["attacks"].__setitem__("zlib", 3))
EOF
expect_error "report: results.train that is a string" "report.py: error: .*/splits/results/memorization_results.json: results.train is not an object \(str" \
  $PY scripts/report.py "$TMP/shape/splits" --output_dir "$TMP/shape/splits_report"
expect_error "report: context_lengths that is a string" "report.py: error: .*/ks/.*: context_lengths is not a list of positive whole numbers" \
  $PY scripts/report.py "$TMP/shape/ks" --output_dir "$TMP/shape/ks_report"
expect_error "report: a results file without config" "report.py: error: .*/config/.*: config is missing" \
  $PY scripts/report.py "$TMP/shape/config" --output_dir "$TMP/shape/config_report"
expect_error "report: a loss that is not a number" "report.py: error: .*/loss/.*: results.train.by_context_length.[0-9]+.loss.value is not a number" \
  $PY scripts/report.py "$TMP/shape/loss" --output_dir "$TMP/shape/loss_report"
expect_error "report: an attack that is not an object" "report.py: error: .*/attack/.*: privacy.membership_inference.attacks.zlib is not an object" \
  $PY scripts/report.py "$TMP/shape/attack" --output_dir "$TMP/shape/attack_report"
check "report: nothing written for results of the wrong shape" bash -c "! ls -d $TMP/shape/*_report 2>/dev/null"
# without matplotlib (a shim that fails to import stands in for an interpreter lacking it): one line, no tables
mkdir -p "$TMP/no_mpl/matplotlib" && echo 'raise ImportError("No module named matplotlib")' > "$TMP/no_mpl/matplotlib/__init__.py"
expect_error "report: without matplotlib, one line that says how to get it" \
  "report.py: error: matplotlib is missing: run it with /usr/bin/python3 or install python3-matplotlib" \
  env PYTHONPATH="$TMP/no_mpl" $PY scripts/report.py "$SW" --output_dir "$TMP/no_mpl_report"
check "report: without matplotlib nothing is written" test ! -e "$TMP/no_mpl_report"
expect_error "plot_memorization: results without model/context_lengths" "plot_memorization.py: error: .*results, model or context_lengths missing" \
  $PY scripts/plot_memorization.py "$TMP/odd3/r/results/memorization_results.json"
expect_error "plot_memorization: an --output_dir that cannot be made" "plot_memorization.py: error: --output_dir .*cannot create it" \
  $PY scripts/plot_memorization.py "$RES" --output_dir "$RES/sub"
expect_error "plot_memorization: a --train_log that is a directory" "plot_memorization.py: error: .*cannot read it" \
  $PY scripts/plot_memorization.py --train_log "$TMP"

echo "== scripts/report.py: results with a null split or a null exposure"
mkdir -p "$TMP/rep_train/results" "$TMP/rep_noexp/results"
"${tm_small[@]}" --splits train --output_file "$TMP/rep_train/results/memorization_results.json" > /dev/null 2>&1
"${tm_small[@]}" --exposure_candidates 0 --output_file "$TMP/rep_noexp/results/memorization_results.json" > /dev/null 2>&1
check "report: --splits train results (null test split) give a report" bash -c "
  $PY -c \"import json, sys; r = json.load(open(sys.argv[1])); assert r['results'].get('test') is None and r['privacy']['membership_inference'] is None\" $TMP/rep_train/results/memorization_results.json &&
  $PY scripts/report.py $TMP/rep_train --output_dir $TMP/rep_train/report && [ -s $TMP/rep_train/report/runs.csv ] && [ -s $TMP/rep_train/report/privacy.md ]"
check "report: a results split written as null gives a report" bash -c "
  mkdir -p $TMP/rep_null/results && $PY -c \"import json, sys; r = json.load(open(sys.argv[1])); r['results']['test'] = None; json.dump(r, open(sys.argv[2], 'w'))\" \
    $TMP/rep_train/results/memorization_results.json $TMP/rep_null/results/memorization_results.json &&
  $PY scripts/report.py $TMP/rep_null --output_dir $TMP/rep_null/report && [ -s $TMP/rep_null/report/runs.md ]"
check "report: --exposure_candidates 0 results (null exposure) give a report, exposure cells n/a" bash -c "
  $PY scripts/report.py $TMP/rep_noexp --output_dir $TMP/rep_noexp/report && grep -q 'n/a' $TMP/rep_noexp/report/privacy.md && [ -s $TMP/rep_noexp/report/runs.md ]"

echo "== scripts/run_experiment.sh and the Slurm scripts: arguments, paths, resume"
RE=scripts/run_experiment.sh
for f in --preset --output_dir --gpus; do
  expect_error "run_experiment: $f without a value" "run_experiment.sh: error: $f needs a value" $RE $f
done
echo x > "$TMP/a_file"
expect_error "run_experiment: an --output_dir that is a file" "run_experiment.sh: error: --output_dir: cannot create .*a_file" $RE --preset cpu --output_dir "$TMP/a_file"
expect_error "run_experiment: a relative --output_dir is taken from the caller's directory" "cannot create .*$TMP/a_file" \
  bash -c "cd $TMP && $ROOT/$RE --preset cpu --output_dir a_file"
expect_error "run_experiment: --epochs with --max_steps N" "run_experiment.sh: error: --epochs 2 and --max_steps 5" $RE --preset cpu --epochs 2 --max_steps 5 --output_dir "$TMP/a_file"
check "run_experiment: nothing created before the arguments are valid" bash -c "! $RE --preset cpu --gpus 0 --output_dir $TMP/notyet 2>/dev/null && [ ! -e $TMP/notyet ]"
tiny_re=(--preset cpu --output_dir "$TMP/with space/r" --num_examples 16 --tokens_per_example 64 --batch_size 4 --epochs 1
  --eval_examples 4 --context_lengths 8 --max_new_tokens 4 --exposure_candidates 0 --threads 2 --train_args "--layers 1 --channels 32 --heads 2")
check "run_experiment: --epochs replaces the cpu preset's steps; a directory with a space runs" \
  bash -c "$RE $(printf '%q ' "${tiny_re[@]}") > $TMP/re.log 2>&1 && grep -q -- '--num_train_epochs 1' $TMP/re.log && ! grep -q -- '--max_steps' $TMP/re.log"
check "run_experiment: ... and a rerun there skips every step" \
  bash -c "[ \$($RE $(printf '%q ' "${tiny_re[@]}") | grep -c 'done already, skipped') -eq 4 ]"
for s in experiment_1node_8gpu experiment_multinode; do
  # the defaults pass run_experiment.sh's checks (batch a multiple of the ranks) and stop at the file
  for p in cpu seed; do
    expect_error "slurm $s, PRESET=$p, DRY_RUN=0: the default batch suits the ranks (runs; stops at the --output_dir file)" \
      "run_experiment.sh: error: --output_dir: cannot create" env MEMLENS="$ROOT" OUT="$TMP/a_file" PRESET=$p DRY_RUN=0 bash scripts/slurm/$s.sbatch
  done
  # no pipe: the script's own exit status counts (with DRY_RUN=0 it runs and fails on the a_file --output_dir)
  check "slurm $s: DRY_RUN=1 only prints" bash -c "MEMLENS=$ROOT OUT=$TMP/a_file DRY_RUN=1 bash scripts/slurm/$s.sbatch > $TMP/dry.out 2>&1 &&
    grep -q -- '--batch_size' $TMP/dry.out && ! grep -q 'error' $TMP/dry.out"
done
for s in train_1node_8gpu train_multinode; do
  check "slurm $s: ZERO_STAGE=1 reaches the trainer as --zero_stage 1 (DRY_RUN=1)" bash -c "MEMLENS=$ROOT OUT=$TMP/zero_out ZERO_STAGE=1 DRY_RUN=1 \
    bash scripts/slurm/$s.sbatch > $TMP/dry_zero.out 2>&1 && grep -q -- 'train_gpt2cu .*--zero_stage 1 ' $TMP/dry_zero.out"
done
for s in experiment_1node_8gpu experiment_multinode train_1node_8gpu train_multinode; do
  expect_error "slurm $s: a missing MEMLENS" "$s.sbatch: error: MEMLENS=$TMP/nope is not a directory; set MEMLENS" env MEMLENS="$TMP/nope" bash scripts/slurm/$s.sbatch
done

echo "== scripts/sweep.sh: duplicate grid values, grid flags after --, relative --sweep_dir"
expect_error "sweep: duplicate --epochs" "sweep.sh: error: --epochs: '3' is given twice" scripts/sweep.sh --epochs 3,3 --list
expect_error "sweep: duplicate --repeats" "sweep.sh: error: --repeats: 'none' is given twice" scripts/sweep.sh --repeats 'none;none' --list
for f in --epochs --model --learning_rate --duplicates --preset --max_steps --output_dir; do
  expect_error "sweep: $f after --" "sweep.sh: error: $f after -- is set by the grid" scripts/sweep.sh --list -- --threads 2 $f x
done
check "sweep: a relative --sweep_dir is taken from the caller's directory" \
  bash -c "cd $TMP && $ROOT/scripts/sweep.sh --sweep_dir rel --list | grep -q \"^0\"$'\t'\"$TMP/rel/model-\""
# --list's command is quoted: read back by the shell it gives the same words, with spaces and quotes in --sweep_dir and after --
cat > "$TMP/list_roundtrip.sh" <<'EOF'
sd="$1/it's a \"sweep\" dir"
line=$(scripts/sweep.sh --sweep_dir "$sd" --list -- --train_args "--layers 1 --channels 32" | head -n 1)
eval "got=($(printf '%s' "$line" | cut -f3))"
want=(scripts/run_experiment.sh --preset cpu --output_dir "$(printf '%s' "$line" | cut -f2)" --model d2 --max_steps 0 --epochs 3
  --learning_rate 5e-3 --train_args "--layers 1 --channels 32")
[ "$(printf '%s' "$line" | cut -f2)" = "$sd/model-d2_ep-3_lr-5e-3_rep-none" ] || { echo "directory: $line"; exit 1; }
[ "${#got[@]}" -eq "${#want[@]}" ] || { echo "words: ${#got[@]} vs ${#want[@]}: $line"; exit 1; }
for i in "${!want[@]}"; do [ "${got[$i]}" = "${want[$i]}" ] || { echo "word $i: '${got[$i]}' vs '${want[$i]}'"; exit 1; }; done
EOF
check "sweep: --list quotes its commands (a --sweep_dir with spaces and quotes reads back as the same words)" bash "$TMP/list_roundtrip.sh" "$TMP"

echo "== stale results: a rerun that fails leaves none that look current; report.py leaves unfinished points out"
mkdir -p "$TMP/mixed"
cp -a "$RUN" "$TMP/mixed/done"
cp -a "$RUN" "$TMP/mixed/changed" && echo "another command" > "$TMP/mixed/changed/.sweep_done"
cp -a "$RUN" "$TMP/mixed/unfinished" && rm "$TMP/mixed/unfinished/.sweep_done"
check "report: only the finished point is a run; the two others are left out, one stderr line each" bash -c "
  $PY scripts/report.py $TMP/mixed --output_dir $TMP/mixed_report > $TMP/mixed.out 2> $TMP/mixed.err &&
  grep -q 'report.py: 1 runs' $TMP/mixed.out && [ \$(grep -c '' $TMP/mixed.err) -eq 2 ] &&
  grep -q 'left out $TMP/mixed/changed: being run again with another command' $TMP/mixed.err &&
  grep -q 'left out $TMP/mixed/unfinished: not finished (no .sweep_done' $TMP/mixed.err &&
  [ \$(tail -n +2 $TMP/mixed_report/privacy.csv | wc -l) -eq 1 ]"
rm "$TMP/mixed/done/.sweep_done"
check "report: nothing finished is one error that says why" bash -c "
  ! $PY scripts/report.py $TMP/mixed --output_dir $TMP/mixed_report 2> $TMP/mixed.err &&
  tail -n 1 $TMP/mixed.err | grep -q 'report.py: error: no complete run below $TMP/mixed (3 left out, see above)'"
# the science point again with an evaluation flag that fails: data and model are reused, the
# evaluation reruns and fails, and the results of the earlier command are gone with it
check "sweep: a point rerun whose evaluation fails fails, keeps data and model, and removes the old results and plots" bash -c "
  ! scripts/sweep.sh $(printf '%q ' "${sweep_args[@]}") --eval_args '--no_such_flag 1' > $TMP/stale.log 2>&1 &&
  grep -q 'FAILED' $TMP/stale.log && grep -q 'generate: done already' $RUN/sweep.log && grep -q 'train: done already' $RUN/sweep.log &&
  [ ! -e $RES ] && [ ! -e ${RES%.json}.jsonl ] && ! ls $RUN/results/*.png 2>/dev/null && [ ! -e $RUN/.sweep_done ] && [ -s $RUN/model/model.bin ]"
