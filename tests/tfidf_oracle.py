#!/usr/bin/python3
"""scikit-learn oracle for llmc/tfidf.c.

  tfidf_oracle.py pairs CASE.json C_OUTPUT.json
      CASE.json is {"fit": [...], "pairs": [[a, b], ...], "analyze": [...]}; C_OUTPUT.json is what
      build/tests/test_tfidf_unit printed for it. Checks vocabulary size, words and similarities.
  tfidf_oracle.py results DATASET_DIR RESULTS.jsonl
      Fits TfidfVectorizer on the dataset's texts (synthetic_dataset.jsonl: each example once) and recomputes the
      similarity of every per-example record the evaluator wrote (generated vs true continuation).
Exits 1 with the worst difference when anything differs by more than 1e-6.
"""
import json
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

TOL = 1e-6


def similarities(vec, pairs):
    a = vec.transform([p[0] for p in pairs])
    b = vec.transform([p[1] for p in pairs])
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()  # rows are unit vectors: dot = cosine


def check_pairs(case_path, c_path):
    case = json.load(open(case_path, encoding="utf-8"))
    got = json.load(open(c_path, encoding="utf-8"))
    vec = TfidfVectorizer()  # sklearn defaults: lowercase, (?u)\b\w\w+\b, smooth idf, l2
    vec.fit(case["fit"])
    analyzer = vec.build_analyzer()
    ok = True
    if got["vocab_size"] != len(vec.vocabulary_):
        print(f"vocabulary size: C {got['vocab_size']} sklearn {len(vec.vocabulary_)}")
        ok = False
    if len(got["words"]) != len(case["analyze"]):  # zip would stop at the shorter list
        print(f"words for {len(got['words'])} texts, expected {len(case['analyze'])}")
        ok = False
    for text, words in zip(case["analyze"], got["words"]):
        if analyzer(text) != words:
            print(f"words differ for {text!r}: C {words} sklearn {analyzer(text)}")
            ok = False
    want = similarities(vec, case["pairs"])
    # cross-check the dot product against sklearn's own cosine_similarity
    for i, (a, b) in enumerate(case["pairs"]):
        ref = cosine_similarity(vec.transform([a]), vec.transform([b]))[0, 0]
        assert abs(ref - want[i]) < 1e-12
    if len(got["similarities"]) != len(want):  # an empty list would broadcast to no difference
        print(f"{len(got['similarities'])} similarities, expected {len(want)}")
        return False
    diff = np.abs(np.asarray(got["similarities"]) - want)
    worst = float(diff.max()) if len(diff) else 0.0
    print(f"{len(want)} pairs, vocabulary {len(vec.vocabulary_)}, worst |C - sklearn| = {worst:.3g}")
    return ok and worst <= TOL


def check_results(dataset_dir, results_path):
    # every example once (train.jsonl repeats an example once per training copy)
    with open(f"{dataset_dir}/synthetic_dataset.jsonl", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    assert len({t for t in texts}) == len(texts), "synthetic_dataset.jsonl should hold each example once"
    vec = TfidfVectorizer().fit(texts)
    records = [json.loads(line) for line in open(results_path, encoding="utf-8") if line.strip()]
    pairs = [(r["generated_text"], r["true_continuation"]) for r in records]
    if not pairs:
        print("no records")
        return False
    want = similarities(vec, pairs)
    got = np.asarray([r["similarity"] for r in records])
    diff = np.abs(got - want)
    i = int(diff.argmax())
    print(f"{len(records)} records, {len(texts)} fit texts, worst |C - sklearn| = {diff[i]:.3g} "
          f"(record {i}: C {got[i]:.9f} sklearn {want[i]:.9f}); "
          f"{int((want < 0.999999).sum())} records with similarity below 1")
    return bool(diff.max() <= TOL)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "pairs" and len(sys.argv) == 4:
        sys.exit(0 if check_pairs(sys.argv[2], sys.argv[3]) else 1)
    if mode == "results" and len(sys.argv) == 4:
        sys.exit(0 if check_results(sys.argv[2], sys.argv[3]) else 1)
    print(__doc__)
    sys.exit(2)
