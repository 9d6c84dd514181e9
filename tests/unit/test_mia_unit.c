// llmc/mia.c and llmc/exposure.c. Without arguments: properties that need no oracle, and the
// KV-cache candidate scoring checked against the model's own full forward pass (itself checked
// against PyTorch). With arguments it is the C side of tests/test_audit.sh, which compares the
// printed numbers with scikit-learn, scipy and Python's zlib:
//   --roc FILE RESAMPLES SEED   FILE: "score label" lines -> JSON: ROC points, AUC, TPR at FPR, intervals
//   --skewnorm_fit FILE         FILE: one value a line -> JSON {location, scale, shape}
//   --skewnorm_logsf LOC SCALE SHAPE X...  -> JSON [log P(X >= x)...]
//   --zlib FILE                 -> zlib-compressed size of the file's bytes
//   --min_k FILE K              FILE: one NLL a line -> min-k% log-probability
#include "llmc/exposure.h"
#include "llmc/gpt2.h"
#include "llmc/gpt2_infer.h"
#include "llmc/mia.h"
#include "llmc/utils.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define EXPECT(cond) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); failures++; } } while (0)

static double *read_numbers(const char *path, size_t *n) {
    FILE *f = fopen_or_die(path, "r", "pass a readable file");
    size_t cap = 1024, count = 0;
    double *x = malloc_or_die(cap * sizeof(double));
    while (fscanf(f, "%lf", &x[count]) == 1)
        if (++count == cap) x = realloc_or_die(x, (cap *= 2) * sizeof(double));
    fclose(f);
    *n = count;
    return x;
}

static void print_json(cJSON *j) {
    char *text = cJSON_PrintUnformatted(j);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(j);
}

static cJSON *estimate_json(Estimate e) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", e.value);
    cJSON_AddNumberToObject(o, "ci_low", e.low);
    cJSON_AddNumberToObject(o, "ci_high", e.high);
    return o;
}

static int oracle_mode(int argc, char **argv) {
    if (!strcmp(argv[1], "--roc") && argc == 5) {
        size_t n2;
        double *v = read_numbers(argv[2], &n2);
        size_t n = n2 / 2;
        double *scores = malloc_or_die(n * sizeof(double));
        int *labels = malloc_or_die(n * sizeof(int));
        for (size_t i = 0; i < n; i++) { scores[i] = v[2 * i]; labels[i] = (int)v[2 * i + 1]; }
        RocPoint *pts = malloc_or_die((n + 1) * sizeof(RocPoint));
        size_t m = roc_curve(scores, labels, n, pts);
        cJSON *j = cJSON_CreateObject(), *fpr = cJSON_AddArrayToObject(j, "fpr"), *tpr = cJSON_AddArrayToObject(j, "tpr");
        cJSON *thr = cJSON_AddArrayToObject(j, "thresholds");
        for (size_t i = 0; i < m; i++) {
            cJSON_AddItemToArray(fpr, cJSON_CreateNumber(pts[i].fpr));
            cJSON_AddItemToArray(tpr, cJSON_CreateNumber(pts[i].tpr));
            cJSON_AddItemToArray(thr, cJSON_CreateNumber(isinf(pts[i].threshold) ? 1e308 : pts[i].threshold));
        }
        cJSON_AddNumberToObject(j, "auc", roc_auc(scores, labels, n));
        const double fprs[3] = {0.01, 0.001, 0.1};
        MiaResult r = mia_evaluate(scores, labels, n, fprs, 3, atoi(argv[3]), 0.95, strtoull(argv[4], NULL, 10));
        cJSON_AddItemToObject(j, "auc_estimate", estimate_json(r.auc));
        cJSON *at = cJSON_AddArrayToObject(j, "tpr_at");
        for (int f = 0; f < 3; f++) {
            cJSON *o = estimate_json(r.tpr_at[f]);
            cJSON_AddNumberToObject(o, "fpr", fprs[f]);
            cJSON_AddItemToArray(at, o);
        }
        print_json(j);
        free(v); free(scores); free(labels); free(pts);
        return 0;
    }
    if (!strcmp(argv[1], "--skewnorm_fit") && argc == 3) {
        size_t n;
        double *x = read_numbers(argv[2], &n);
        SkewNormal d = skewnormal_fit(x, n);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "location", d.location);
        cJSON_AddNumberToObject(j, "scale", d.scale);
        cJSON_AddNumberToObject(j, "shape", d.shape);
        print_json(j);
        free(x);
        return 0;
    }
    if (!strcmp(argv[1], "--skewnorm_logsf") && argc >= 6) {
        SkewNormal d = {atof(argv[2]), atof(argv[3]), atof(argv[4])};
        cJSON *j = cJSON_CreateArray();
        for (int i = 5; i < argc; i++) cJSON_AddItemToArray(j, cJSON_CreateNumber(skewnormal_log_sf(d, atof(argv[i]))));
        print_json(j);
        return 0;
    }
    if (!strcmp(argv[1], "--zlib") && argc == 3) {
        size_t len;
        char *text = read_file_or_die(argv[2], &len);
        printf("%zu\n", mia_zlib_size(text, len));
        free(text);
        return 0;
    }
    if (!strcmp(argv[1], "--min_k") && argc == 4) {
        size_t n;
        double *x = read_numbers(argv[2], &n);
        float *nll = malloc_or_die((n ? n : 1) * sizeof(float));
        for (size_t i = 0; i < n; i++) nll[i] = (float)x[i];
        printf("%.9g\n", mia_min_k_logprob(nll, n, atof(argv[3])));
        free(x); free(nll);
        return 0;
    }
    die("unknown arguments (see the comment at the top of tests/unit/test_mia_unit.c)");
    return 1;
}

// log p(candidate | context) by full forward passes: the oracle for score_continuations.
static double full_forward_loglik(GPT2 *model, const int *context, const int *positions, int P, const int *cand, int len) {
    int T = P + len - 1;
    int inputs[T], pos[T];
    for (int t = 0; t < P; t++) { inputs[t] = context[t]; pos[t] = positions[t]; }
    for (int t = 0; t < len - 1; t++) { inputs[P + t] = cand[t]; pos[P + t] = positions[P - 1] + 1 + t; }
    gpt2_forward_positions(model, inputs, pos, NULL, 1, T);
    const int V = model->config.vocab_size, Vp = model->config.padded_vocab_size;
    double total = 0.0;
    for (int t = 0; t < len; t++) {
        const float *row = model->logits + (size_t)(P - 1 + t) * Vp;
        double maxv = row[0], sum = 0.0;
        for (int v = 1; v < V; v++) if (row[v] > maxv) maxv = row[v];
        for (int v = 0; v < V; v++) sum += exp(row[v] - maxv);
        total += row[cand[t]] - maxv - log(sum);
    }
    return total;
}

static void check_scoring(void) {
    GPT2Config cfg;
    char why[256];
    if (!gpt2_config_make(&cfg, 2, 64, 4, 300, 320, 64, why, sizeof why)) die("config: %s", why);
    GPT2 model;
    gpt2_init_random(&model, cfg, 99);
    for (size_t i = 0; i < model.param_sizes[GPT2_WTE]; i++) model.params.wte[i] *= 5.0f;  // peakier distributions
    for (size_t i = 0; i < model.param_sizes[GPT2_FCW]; i++) model.params.fcw[i] *= 6.0f;
    enum { P = 9, M = 7 };
    int context[P], positions[P];
    for (int t = 0; t < P; t++) { context[t] = (t * 53 + 11) % cfg.vocab_size; positions[t] = 30 + t; }
    // three shared leading tokens, then tails of 1..4 tokens (padding and several batches)
    static const int c0[] = {5, 6, 7, 100}, c1[] = {5, 6, 7, 101, 12}, c2[] = {5, 6, 7, 102, 13, 14},
                     c3[] = {5, 6, 7, 100, 15, 16, 17}, c4[] = {5, 6, 7, 299}, c5[] = {5, 6, 7, 0, 1},
                     c6[] = {5, 6, 7, 101, 13};
    const int *cands[M] = {c0, c1, c2, c3, c4, c5, c6};
    int lens[M] = {4, 5, 6, 7, 4, 5, 5};
    ContinuationScorer g;
    continuation_scorer_init(&g, &model, P + 7);
    for (int batch = 1; batch <= 4; batch += 3) {
        double got[M];
        size_t bad = score_continuations(&g, context, positions, P, cands, lens, M, batch, got);
        EXPECT(bad == 0);
        for (int i = 0; i < M; i++) {
            double want = full_forward_loglik(&model, context, positions, P, cands[i], lens[i]);
            if (!(fabs(got[i] - want) < 1e-3 * (1.0 + fabs(want)))) {
                fprintf(stderr, "candidate %d (batch %d): KV scoring %.6f, full forward %.6f\n", i, batch, got[i], want);
                failures++;
            }
        }
    }
    // no shared first token
    static const int d0[] = {3, 4}, d1[] = {8}, d2[] = {9, 10, 11};
    const int *dc[3] = {d0, d1, d2};
    int dl[3] = {2, 1, 3};
    double got[3];
    score_continuations(&g, context, positions, P, dc, dl, 3, 2, got);
    for (int i = 0; i < 3; i++) {
        double want = full_forward_loglik(&model, context, positions, P, dc[i], dl[i]);
        EXPECT(fabs(got[i] - want) < 1e-3 * (1.0 + fabs(want)));
    }
    // at the end of the model's positions: a tail that would need position 64 is unscorable
    int late[P];
    for (int t = 0; t < P; t++) late[t] = 64 - P - 1 + t;  // last context position 62: inputs may use 63
    static const int e0[] = {5, 6}, e1[] = {5, 6, 7};
    const int *ec[2] = {e0, e1};
    int el[2] = {2, 3};
    double eg[2];
    size_t bad = score_continuations(&g, context, late, P, ec, el, 2, 2, eg);
    EXPECT(bad == 1 && !isnan(eg[0]) && isnan(eg[1]));
    EXPECT(fabs(eg[0] - full_forward_loglik(&model, context, late, P, e0, 2)) < 1e-3 * (1.0 + fabs(eg[0])));
    continuation_scorer_free(&g);
    gpt2_free(&model);
}

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    if (argc > 1) return oracle_mode(argc, argv);

    // ROC: separated, reversed, tied, and the conservative TPR step
    double s[6] = {0.9, 0.8, 0.7, 0.3, 0.2, 0.1};
    int y[6] = {1, 1, 1, 0, 0, 0}, y_rev[6] = {0, 0, 0, 1, 1, 1};
    EXPECT(roc_auc(s, y, 6) == 1.0);
    EXPECT(roc_auc(s, y_rev, 6) == 0.0);
    double tied[6] = {1, 1, 1, 1, 1, 1};
    EXPECT(roc_auc(tied, y, 6) == 0.5);
    int one_class[6] = {1, 1, 1, 1, 1, 1};
    EXPECT(isnan(roc_auc(s, one_class, 6)));
    double mixed[4] = {0.9, 0.8, 0.7, 0.6};
    int ym[4] = {1, 0, 1, 0};
    RocPoint pts[5];
    size_t m = roc_curve(mixed, ym, 4, pts);
    EXPECT(m == 5 && pts[0].fpr == 0.0 && pts[0].tpr == 0.0 && pts[4].fpr == 1.0 && pts[4].tpr == 1.0);
    EXPECT(tpr_at_fpr(pts, m, 0.0) == 0.5);   // threshold 0.9: one member, no non-member
    EXPECT(tpr_at_fpr(pts, m, 0.49) == 0.5);  // never interpolated towards (0.5, 1.0)
    EXPECT(tpr_at_fpr(pts, m, 0.5) == 1.0);
    EXPECT(fabs(roc_auc(mixed, ym, 4) - 0.75) < 1e-12);
    const double fprs[2] = {0.01, 0.001};
    MiaResult a = mia_evaluate(mixed, ym, 4, fprs, 2, 200, 0.95, 5), b = mia_evaluate(mixed, ym, 4, fprs, 2, 200, 0.95, 5);
    EXPECT(a.auc.low == b.auc.low && a.auc.high == b.auc.high);  // seeded
    EXPECT(a.auc.low <= a.auc.value && a.auc.value <= a.auc.high && a.num_members == 2 && a.num_non_members == 2);
    MiaResult none = mia_evaluate(s, one_class, 6, fprs, 2, 10, 0.95, 5);
    EXPECT(isnan(none.auc.value) && isnan(none.tpr_at[0].value));

    // scores
    float nll[5] = {1.0f, 4.0f, 2.0f, 8.0f, 0.5f};
    EXPECT(fabs(mia_mean_nll(nll, 5) - 3.1) < 1e-6);
    EXPECT(fabs(mia_min_k_logprob(nll, 5, 0.2) + 8.0) < 1e-6);   // 1 token: the least likely
    EXPECT(fabs(mia_min_k_logprob(nll, 5, 0.4) + 6.0) < 1e-6);   // 2 tokens: 8 and 4
    EXPECT(fabs(mia_min_k_logprob(nll, 5, 0.01) + 8.0) < 1e-6);  // at least one token
    const char *repetitive = "abababababababababababababababababababababababababab";
    EXPECT(mia_zlib_size(repetitive, strlen(repetitive)) < strlen(repetitive) / 2);

    // rank and exposure
    double others[5] = {-3.0, -1.0, -2.0, NAN, -1.0};
    EXPECT(exposure_rank(0.0, others, 5) == 1);
    EXPECT(exposure_rank(-1.0, others, 5) == 3);   // ties count against the true identifier
    EXPECT(exposure_rank(-10.0, others, 5) == 5);  // the NaN is not counted
    EXPECT(exposure_from_rank(1, 1024) == 10.0 && exposure_from_rank(1024, 1024) == 0.0);

    // candidate sets: seeded, distinct, never the true number; "all" covers every other number
    static CandidateSet c1, c2, all;
    candidate_set_init(&c1, 1000, 7);
    candidate_set_init(&c2, 1000, 7);
    EXPECT(!memcmp(c1.order, c2.order, sizeof c1.order));
    int out[999];
    candidate_set_others(&c1, c1.order[10], out);
    static char seen[EXPOSURE_ID_SPACE];
    int distinct = 1;
    for (int i = 0; i < 999; i++) { distinct &= !seen[out[i]] && out[i] != c1.order[10]; seen[out[i]] = 1; }
    EXPECT(distinct);
    candidate_set_init(&all, EXPOSURE_ID_SPACE, 3);
    static int every[EXPOSURE_ID_SPACE - 1];
    candidate_set_others(&all, 42, every);
    long long sum = 0;
    for (int i = 0; i < EXPOSURE_ID_SPACE - 1; i++) sum += every[i];
    EXPECT(sum == (long long)EXPOSURE_ID_SPACE * (EXPOSURE_ID_SPACE - 1) / 2 - 42);

    // skew-normal: normal case against erfc; a fit of mirrored data mirrors the shape
    SkewNormal normal = {1.0, 2.0, 0.0};
    EXPECT(fabs(skewnormal_log_sf(normal, 1.0) - log(0.5)) < 1e-7);
    EXPECT(fabs(skewnormal_log_sf(normal, 5.0) - log(0.5 * erfc(2.0 / sqrt(2.0)))) < 1e-7);
    EXPECT(skewnormal_log_sf(normal, -1000.0) > -1e-12);
    double sample[7] = {0, 0, 0, 1, 1, 2, 6}, mirrored[7];
    for (int i = 0; i < 7; i++) mirrored[i] = -sample[i];
    SkewNormal f = skewnormal_fit(sample, 7), g = skewnormal_fit(mirrored, 7);
    EXPECT(f.shape > 0 && fabs(f.shape + g.shape) < 1e-9 && fabs(f.scale - g.scale) < 1e-9);
    EXPECT(exposure_estimate(f, 100.0) > exposure_estimate(f, 10.0));
    double flat[4] = {2, 2, 2, 2};
    EXPECT(isnan(exposure_estimate(skewnormal_fit(flat, 4), 3.0)));

    check_scoring();
    if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
    printf("test_mia_unit: all checks passed\n");
    return 0;
}
