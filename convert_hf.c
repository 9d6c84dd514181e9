// convert_hf: Hugging Face GPT-2 (config.json + safetensors) <-> llm.c model file (.bin).
//
//   convert_hf --input DIR --output FILE.bin [--bf16] [--dry_run]
//   convert_hf --to_hf --input FILE.bin --output DIR [--tokenizer_dir D] [--overwrite]
//
// What differs between the two layouts:
//   - HF's GPT-2 uses Conv1D for c_attn, attn.c_proj, c_fc, mlp.c_proj: weights are (in, out);
//     llm.c stores (out, in). So c_attn.weight (C, 3C) <-> qkvw (3C, C), and so on: a transpose.
//   - HF keeps the real vocabulary (V = 50257 rows); llm.c pads wte to Vp (multiple of 128) with zero rows.
//   - HF names may carry a "transformer." prefix (GPT2LMHeadModel) or not (GPT2Model, old hub files),
//     and may include lm_head.weight, which GPT-2 ties to wte (llm.c has no separate head).
//   - HF files may hold F32, F16 or BF16 tensors; llm.c files are fp32 (v3) or bf16 (v5).
// Pickle checkpoints (pytorch_model.bin) are refused: unpickling can run arbitrary code.
#include "llmc/args.h"
#include "llmc/gpt2.h"
#include "llmc/json_io.h"
#include "llmc/safetensors.h"
#include "llmc/utils.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

// ---------------------------------------------------------------------------------------------
// Where each llm.c tensor lives in HF's GPT-2.

typedef struct {
    int llmc_index;          // GPT2_* tensor
    const char *hf_suffix;   // name inside transformer.h.N.
    int conv1d;              // HF stores it (in, out): transpose against llm.c's (out, in)
} LayerTensor;

static const LayerTensor LAYER_TENSORS[] = {
    {GPT2_LN1W, "ln_1.weight", 0},         {GPT2_LN1B, "ln_1.bias", 0},
    {GPT2_QKVW, "attn.c_attn.weight", 1},  {GPT2_QKVB, "attn.c_attn.bias", 0},
    {GPT2_ATTPROJW, "attn.c_proj.weight", 1}, {GPT2_ATTPROJB, "attn.c_proj.bias", 0},
    {GPT2_LN2W, "ln_2.weight", 0},         {GPT2_LN2B, "ln_2.bias", 0},
    {GPT2_FCW, "mlp.c_fc.weight", 1},      {GPT2_FCB, "mlp.c_fc.bias", 0},
    {GPT2_FCPROJW, "mlp.c_proj.weight", 1}, {GPT2_FCPROJB, "mlp.c_proj.bias", 0},
};
#define NUM_LAYER_TENSORS ((int)(sizeof(LAYER_TENSORS) / sizeof(LAYER_TENSORS[0])))

// llm.c's per-layer shape of tensor i: rows x cols (cols = 0 for vectors).
static void llmc_layer_shape(const GPT2Config *c, int i, int64_t *rows, int64_t *cols) {
    int64_t C = c->channels;
    *cols = 0;
    switch (i) {
    case GPT2_QKVW: *rows = 3 * C; *cols = C; break;
    case GPT2_QKVB: *rows = 3 * C; break;
    case GPT2_ATTPROJW: *rows = C; *cols = C; break;
    case GPT2_FCW: *rows = 4 * C; *cols = C; break;
    case GPT2_FCB: *rows = 4 * C; break;
    case GPT2_FCPROJW: *rows = C; *cols = 4 * C; break;
    default: *rows = C;   // LayerNorm weights/biases, attprojb, fcprojb
    }
}

// out (cols, rows) = transpose of in (rows, cols)
static void transpose(float *out, const float *in, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < cols; k++) out[k * rows + r] = in[r * cols + k];
}

// Names from files are untrusted: keep error lines single and short.
static const char *printable(const char *s) {
    static char buf[4][96];
    static int next = 0;
    char *out = buf[next++ % 4];
    size_t i = 0;
    for (; s[i] && i < sizeof(buf[0]) - 4; i++) out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i]) { memcpy(out + i, "...", 3); i += 3; }
    out[i] = '\0';
    return out;
}

// ---------------------------------------------------------------------------------------------
// config.json

typedef struct {
    GPT2Config config;
    int has_dtype;           // config names torch_dtype: every weight must have it
    int tied;                // tie_word_embeddings (default true): HF then computes logits with wte
    SafeDType dtype;
    char architecture[32];   // GPT2LMHeadModel or GPT2Model
} HFConfig;

// A positive integer field: 1 when present, 0 when absent; dies when present but not one.
static int config_int(const char *path, const cJSON *root, const char *key, int *out) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item || cJSON_IsNull(item)) return 0;
    double v = cJSON_IsNumber(item) ? item->valuedouble : -1;
    if (!(v >= 1 && v <= 1e9) || v != (double)(int)v)
        die("%s: \"%s\" must be a positive integer (fix config.json or download it again)", path, key);
    *out = (int)v;
    return 1;
}

static void read_hf_config(const char *dir, HFConfig *hc) {
    char *path = path_join(dir, "config.json");
    if (!file_exists(path))
        die("%s not found (--input must be a Hugging Face model directory with config.json and model.safetensors; "
            "scripts/download_gpt2.sh fetches one)", path);
    cJSON *root = json_read_file_or_die(path, "download config.json again");
    if (!cJSON_IsObject(root)) die("%s is not a JSON object (download config.json again)", path);
    memset(hc, 0, sizeof *hc);

    // The architecture decides the tensor layout; refuse anything that is not plain GPT-2.
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *model_type = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (archs && !cJSON_IsNull(archs)) {
        const cJSON *first = cJSON_IsArray(archs) ? cJSON_GetArrayItem(archs, 0) : NULL;
        if (!cJSON_IsString(first) || cJSON_GetArraySize(archs) != 1)
            die("%s: unknown architecture (\"architectures\" must be [\"GPT2LMHeadModel\"] or [\"GPT2Model\"])", path);
        if (strcmp(first->valuestring, "GPT2LMHeadModel") && strcmp(first->valuestring, "GPT2Model"))
            die("%s: unknown architecture '%s' (convert_hf handles GPT2LMHeadModel and GPT2Model only)", path,
                printable(first->valuestring));
        snprintf(hc->architecture, sizeof hc->architecture, "%s", first->valuestring);
    } else if (cJSON_IsString(model_type) && !strcmp(model_type->valuestring, "gpt2")) {
        snprintf(hc->architecture, sizeof hc->architecture, "GPT2Model");
    } else {
        die("%s: unknown architecture (no \"architectures\" and model_type is not \"gpt2\"; convert_hf handles GPT-2 only)", path);
    }

    int L, C, NH, V, maxT;
    if (!config_int(path, root, "n_layer", &L)) die("%s: missing \"n_layer\" (download config.json again)", path);
    if (!config_int(path, root, "n_head", &NH)) die("%s: missing \"n_head\" (download config.json again)", path);
    if (!config_int(path, root, "n_embd", &C)) die("%s: missing \"n_embd\" (download config.json again)", path);
    if (!config_int(path, root, "vocab_size", &V)) die("%s: missing \"vocab_size\" (download config.json again)", path);
    if (!config_int(path, root, "n_positions", &maxT) && !config_int(path, root, "n_ctx", &maxT))
        die("%s: missing \"n_positions\" (or \"n_ctx\") (download config.json again)", path);

    // Variants of GPT-2 that llm.c's forward does not compute: converting them would give a different model.
    int inner;
    if (config_int(path, root, "n_inner", &inner) && inner != 4 * C)
        die("%s: n_inner %d is not 4 x n_embd; llm.c's GPT-2 has a 4C MLP (this model cannot be converted)", path, inner);
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "activation_function");
    if (act && !(cJSON_IsString(act) && (!strcmp(act->valuestring, "gelu_new") ||
                                         !strcmp(act->valuestring, "gelu_pytorch_tanh"))))
        die("%s: activation_function must be gelu_new (the tanh GELU llm.c computes); this model cannot be converted", path);
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_epsilon");
    if (eps && !(cJSON_IsNumber(eps) && eps->valuedouble == 1e-5))
        die("%s: layer_norm_epsilon must be 1e-5 (llm.c's LayerNorm); this model cannot be converted", path);
    const char *must_be_false[] = {"scale_attn_by_inverse_layer_idx", "add_cross_attention"};
    for (int i = 0; i < 2; i++)
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, must_be_false[i])))
            die("%s: %s is true, which llm.c's GPT-2 does not compute; this model cannot be converted", path, must_be_false[i]);
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "scale_attn_weights")))
        die("%s: scale_attn_weights is false, which llm.c's GPT-2 does not compute; this model cannot be converted", path);

    hc->tied = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings"));

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(root, "torch_dtype");
    if (dtype && !cJSON_IsNull(dtype)) {
        hc->has_dtype = 1;
        if (cJSON_IsString(dtype) && !strcmp(dtype->valuestring, "float32")) hc->dtype = SAFE_F32;
        else if (cJSON_IsString(dtype) && !strcmp(dtype->valuestring, "float16")) hc->dtype = SAFE_F16;
        else if (cJSON_IsString(dtype) && !strcmp(dtype->valuestring, "bfloat16")) hc->dtype = SAFE_BF16;
        else die("%s: torch_dtype must be float32, float16 or bfloat16 (fix config.json)", path);
    }

    char why[256];
    if (!gpt2_config_make(&hc->config, L, C, NH, V, 0, maxT, why, sizeof why))
        die("%s: unsupported model shape: %s (fix config.json)", path, why);
    cJSON_Delete(root);
    free(path);
}

// ---------------------------------------------------------------------------------------------
// The safetensors files of a model: one model.safetensors, or shards listed by model.safetensors.index.json.

typedef struct {
    const char *dir;
    int num_files;
    SafeTensorsFile *files;
} HFWeights;

typedef struct {
    const SafeTensorsFile *file;
    const SafeTensor *tensor;
} TensorRef;

// The tensor with exactly this name in any file; dies if two files both hold it.
static TensorRef find_exact(const HFWeights *w, const char *name) {
    TensorRef ref = {0};
    for (int i = 0; i < w->num_files; i++) {
        const SafeTensor *t = safetensors_find(&w->files[i], name);
        if (!t) continue;
        if (ref.tensor)
            die("%s: tensor '%s' is in both %s and %s (the shards are inconsistent; download the model again)",
                w->dir, printable(name), ref.file->path, w->files[i].path);
        ref.file = &w->files[i];
        ref.tensor = t;
    }
    return ref;
}

// Shard names come from an untrusted index: plain file names inside the model directory only.
static int is_plain_file_name(const char *s) {
    if (!*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..")) return 0;
    for (const char *p = s; *p; p++) if (*p < 0x20) return 0;
    return 1;
}

static void open_hf_weights(HFWeights *w, const char *dir) {
    memset(w, 0, sizeof *w);
    w->dir = dir;
    char *single = path_join(dir, "model.safetensors");
    char *index = path_join(dir, "model.safetensors.index.json");
    if (file_exists(single)) {
        w->num_files = 1;
        w->files = calloc_or_die(1, sizeof(SafeTensorsFile));
        safetensors_open(&w->files[0], single);
    } else if (file_exists(index)) {
        cJSON *root = json_read_file_or_die(index, "download model.safetensors.index.json again");
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
        if (!cJSON_IsObject(map) || !map->child)
            die("%s: no \"weight_map\" object (download model.safetensors.index.json again)", index);
        // Distinct shard names, in order of first appearance.
        int n = 0, cap = cJSON_GetArraySize(map);
        const char **names = calloc_or_die(cap, sizeof(char *));
        for (const cJSON *e = map->child; e; e = e->next) {
            if (!cJSON_IsString(e) || !is_plain_file_name(e->valuestring))
                die("%s: weight_map entry '%s' is not a shard file name in the model directory "
                    "(download model.safetensors.index.json again)", index, printable(e->string));
            int seen = 0;
            for (int i = 0; i < n; i++) if (!strcmp(names[i], e->valuestring)) seen = 1;
            if (!seen) names[n++] = e->valuestring;
        }
        w->num_files = n;
        w->files = calloc_or_die(n, sizeof(SafeTensorsFile));
        for (int i = 0; i < n; i++) {
            char *shard = path_join(dir, names[i]);
            if (!file_exists(shard))
                die("%s: shard %s listed in model.safetensors.index.json is missing (download it)", dir, shard);
            safetensors_open(&w->files[i], shard);
            free(shard);
        }
        // Every tensor must be where the index says.
        for (const cJSON *e = map->child; e; e = e->next) {
            TensorRef ref = find_exact(w, e->string);
            const char *base = ref.file ? strrchr(ref.file->path, '/') + 1 : NULL;
            if (!ref.tensor || strcmp(base, e->valuestring))
                die("%s: tensor '%s' is not in shard %s as model.safetensors.index.json says (download the model again)",
                    dir, printable(e->string), printable(e->valuestring));
        }
        free(names);
        cJSON_Delete(root);
    } else {
        char *pickle = path_join(dir, "pytorch_model.bin");
        if (file_exists(pickle))
            die("%s: only pytorch_model.bin here, a pickle file, which is not parsed because unpickling can run "
                "arbitrary code; convert it to model.safetensors on a trusted machine (python: "
                "GPT2LMHeadModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True))", dir);
        die("%s: no model.safetensors or model.safetensors.index.json (download the model with scripts/download_gpt2.sh)", dir);
    }
    free(single);
    free(index);
}

static void close_hf_weights(HFWeights *w) {
    for (int i = 0; i < w->num_files; i++) safetensors_close(&w->files[i]);
    free(w->files);
}

// A tensor by its name without the "transformer." prefix, accepting either spelling.
static TensorRef find_tensor(const HFWeights *w, const char *name) {
    char prefixed[256];
    snprintf(prefixed, sizeof prefixed, "transformer.%s", name);
    TensorRef a = find_exact(w, name), b = find_exact(w, prefixed);
    if (a.tensor && b.tensor)
        die("%s: both '%s' and '%s' are present (ambiguous; keep one spelling)", w->dir, name, prefixed);
    return a.tensor ? a : b;
}

// ---------------------------------------------------------------------------------------------
// HF -> llm.c

typedef struct {
    char name[128];          // HF name without the prefix
    int llmc_index;          // GPT2_* or -1 (lm_head / ignored buffers)
    int layer;               // -1 for global tensors
    int conv1d;
    int64_t hf_shape[2];     // expected shape (hf_shape[1] = 0 for vectors)
    TensorRef ref;
} PlannedTensor;

typedef struct {
    HFConfig hc;
    HFWeights weights;
    int num_planned;
    PlannedTensor *planned;   // the 4 + 12 L tensors that become llm.c parameters
    TensorRef lm_head;        // optional
    size_t hf_parameters;     // elements in the HF tensors we convert (lm_head counted once, as tied)
    SafeDType dtype_seen[SAFE_NUM_DTYPES];
} Plan;

static void plan_add(Plan *p, const char *name, int index, int layer, int conv1d, int64_t d0, int64_t d1) {
    PlannedTensor *t = &p->planned[p->num_planned++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->llmc_index = index;
    t->layer = layer;
    t->conv1d = conv1d;
    t->hf_shape[0] = d0;
    t->hf_shape[1] = d1;
}

static void shape_text(char *buf, size_t n, const int64_t *shape, int ndim) {
    size_t used = snprintf(buf, n, "(");
    for (int i = 0; i < ndim && used < n; i++)
        used += snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, ")");
}

// Shape and dtype of one found tensor against what config.json implies.
static void check_tensor(const Plan *p, const char *name, const TensorRef *ref, const int64_t expect[2]) {
    const SafeTensor *t = ref->tensor;
    int want_ndim = expect[1] ? 2 : 1;
    int64_t want[2] = {expect[0], expect[1]};
    if (t->ndim != want_ndim || t->shape[0] != want[0] || (want_ndim == 2 && t->shape[1] != want[1])) {
        char got[128], need[64];
        shape_text(got, sizeof got, t->shape, t->ndim);
        shape_text(need, sizeof need, want, want_ndim);
        const char *hint = (want_ndim == 2 && t->ndim == 2 && t->shape[0] == want[1] && t->shape[1] == want[0])
            ? "it looks transposed (nn.Linear layout); HF's GPT-2 stores Conv1D (in, out)"
            : "the weights do not match config.json";
        die("%s: tensor '%s' has shape %s but config.json implies %s (%s; fix config.json or re-export the model)",
            ref->file->path, printable(t->name), got, need, hint);
    }
    if (t->dtype != SAFE_F32 && t->dtype != SAFE_F16 && t->dtype != SAFE_BF16)
        die("%s: tensor '%s' has dtype %s; GPT-2 weights must be F32, F16 or BF16 (re-export the model)",
            ref->file->path, printable(t->name), safe_dtype_name(t->dtype));
    if (p->hc.has_dtype && t->dtype != p->hc.dtype)
        die("%s: tensor '%s' has dtype %s but config.json says torch_dtype %s (fix torch_dtype or re-export the model)",
            ref->file->path, printable(t->name), safe_dtype_name(t->dtype),
            p->hc.dtype == SAFE_F32 ? "float32" : p->hc.dtype == SAFE_F16 ? "float16" : "bfloat16");
}

// Find and check every tensor without reading any weight (this is all of --dry_run).
static void make_plan(Plan *p, const char *dir) {
    memset(p, 0, sizeof *p);
    read_hf_config(dir, &p->hc);
    open_hf_weights(&p->weights, dir);
    const GPT2Config *c = &p->hc.config;
    int64_t C = c->channels;
    p->planned = calloc_or_die(4 + (size_t)NUM_LAYER_TENSORS * c->num_layers, sizeof(PlannedTensor));
    plan_add(p, "wte.weight", GPT2_WTE, -1, 0, c->vocab_size, C);
    plan_add(p, "wpe.weight", GPT2_WPE, -1, 0, c->max_seq_len, C);
    for (int l = 0; l < c->num_layers; l++) {
        for (int k = 0; k < NUM_LAYER_TENSORS; k++) {
            const LayerTensor *lt = &LAYER_TENSORS[k];
            int64_t rows, cols;
            llmc_layer_shape(c, lt->llmc_index, &rows, &cols);
            char name[128];
            snprintf(name, sizeof name, "h.%d.%s", l, lt->hf_suffix);
            if (lt->conv1d) plan_add(p, name, lt->llmc_index, l, 1, cols, rows);
            else plan_add(p, name, lt->llmc_index, l, 0, rows, cols);
        }
    }
    plan_add(p, "ln_f.weight", GPT2_LNFW, -1, 0, C, 0);
    plan_add(p, "ln_f.bias", GPT2_LNFB, -1, 0, C, 0);

    for (int i = 0; i < p->num_planned; i++) {
        PlannedTensor *t = &p->planned[i];
        t->ref = find_tensor(&p->weights, t->name);
        if (!t->ref.tensor)
            die("%s: tensor '%s' (or 'transformer.%s') is missing (the model is incomplete or not GPT-2 with this "
                "config.json; download it again)", dir, t->name, t->name);
        check_tensor(p, t->name, &t->ref, t->hf_shape);
        p->hf_parameters += t->ref.tensor->num_elements;
        p->dtype_seen[t->ref.tensor->dtype] = 1;
    }
    p->lm_head = find_exact(&p->weights, "lm_head.weight");
    if (!p->lm_head.tensor && !p->hc.tied && !strcmp(p->hc.architecture, "GPT2LMHeadModel"))
        die("%s: config.json unties the output head (tie_word_embeddings: false) but there is no lm_head.weight "
            "(the model is incomplete; download it again)", dir);
    if (p->lm_head.tensor) {
        int64_t expect[2] = {c->vocab_size, C};
        check_tensor(p, "lm_head.weight", &p->lm_head, expect);
    }

    // Anything else is not part of GPT-2: refuse rather than silently drop weights. The causal-mask
    // buffers (h.N.attn.bias, h.N.attn.masked_bias) that older exports include are not weights.
    for (int f = 0; f < p->weights.num_files; f++) {
        const SafeTensorsFile *file = &p->weights.files[f];
        for (int i = 0; i < file->num_tensors; i++) {
            const char *name = file->tensors[i].name;
            if (!strcmp(name, "lm_head.weight")) continue;
            const char *bare = strncmp(name, "transformer.", 12) ? name : name + 12;
            int known = 0;
            for (int k = 0; k < p->num_planned && !known; k++) known = !strcmp(bare, p->planned[k].name);
            for (int l = 0; l < c->num_layers && !known; l++) {
                char buffer_name[64], masked_name[64];
                snprintf(buffer_name, sizeof buffer_name, "h.%d.attn.bias", l);
                snprintf(masked_name, sizeof masked_name, "h.%d.attn.masked_bias", l);
                known = !strcmp(bare, buffer_name) || !strcmp(bare, masked_name);
            }
            if (!known)
                die("%s: unexpected tensor '%s' (not part of GPT-2 with this config.json; is it another architecture?)",
                    file->path, printable(name));
        }
    }
}

static void free_plan(Plan *p) {
    close_hf_weights(&p->weights);
    free(p->planned);
}

static void read_tensor_f32(const TensorRef *ref, float *out) { safetensors_read_f32(ref->file, ref->tensor, out); }

static void convert_from_hf(const char *dir, const char *output, int bf16, int dry_run) {
    double t0 = now_seconds();
    Plan p;
    make_plan(&p, dir);
    const GPT2Config *c = &p.hc.config;
    size_t sizes[GPT2_NUM_PARAM_TENSORS];
    size_t llmc_parameters = gpt2_param_sizes(c, sizes);
    char dtypes[64] = "";
    for (int d = 0; d < SAFE_NUM_DTYPES; d++)
        if (p.dtype_seen[d]) snprintf(dtypes + strlen(dtypes), sizeof dtypes - strlen(dtypes), "%s%s", *dtypes ? "+" : "", safe_dtype_name(d));
    printf("input:      %s (%s, %d safetensors file%s, weights %s, lm_head %s)\n", dir, p.hc.architecture,
           p.weights.num_files, p.weights.num_files == 1 ? "" : "s", dtypes,
           p.lm_head.tensor ? "present" : "absent (tied)");
    printf("config:     L=%d C=%d NH=%d V=%d (padded to %d) maxT=%d\n", c->num_layers, c->channels,
           c->num_heads, c->vocab_size, c->padded_vocab_size, c->max_seq_len);
    printf("parameters: %zu (Hugging Face, tied head) -> %zu (llm.c, padded vocab)\n", p.hf_parameters, llmc_parameters);
    if (dry_run) {
        printf("dry run:    all %d tensors present with the shapes config.json implies; nothing written\n", p.num_planned);
        free_plan(&p);
        return;
    }

    GPT2 model;
    gpt2_init_empty(&model, *c);   // zeros: the padded vocab rows stay zero, everything else is filled below
    float *base[GPT2_NUM_PARAM_TENSORS];
    base[0] = model.params_memory;
    for (int i = 1; i < GPT2_NUM_PARAM_TENSORS; i++) base[i] = base[i - 1] + sizes[i - 1];
    size_t V = c->vocab_size, C = c->channels;

    size_t max_elements = 0;
    for (int i = 0; i < p.num_planned; i++)
        if (p.planned[i].ref.tensor->num_elements > max_elements) max_elements = p.planned[i].ref.tensor->num_elements;
    float *scratch = malloc_or_die(max_elements * sizeof(float));
    for (int i = 0; i < p.num_planned; i++) {
        const PlannedTensor *t = &p.planned[i];
        size_t n = t->ref.tensor->num_elements;
        float *dst = base[t->llmc_index] + (t->layer >= 0 ? (size_t)t->layer * n : 0);
        if (t->conv1d) {
            read_tensor_f32(&t->ref, scratch);
            transpose(dst, scratch, t->hf_shape[0], t->hf_shape[1]);   // (in, out) -> (out, in)
        } else {
            read_tensor_f32(&t->ref, dst);
        }
    }

    // llm.c computes logits with wte. HF does too unless tie_word_embeddings is false; then only an
    // lm_head equal to wte can be represented.
    if (p.lm_head.tensor) {
        read_tensor_f32(&p.lm_head, scratch);
        int same = memcmp(scratch, base[GPT2_WTE], V * C * sizeof(float)) == 0;
        if (!same && !p.hc.tied)
            die("%s: lm_head.weight differs from wte.weight and config.json unties them (tie_word_embeddings: false), "
                "but llm.c's GPT-2 computes logits with wte; this model cannot be converted", p.lm_head.file->path);
        if (!same)
            warn("%s: lm_head.weight differs from wte.weight; config.json ties them, so HF ignores it too (logits use wte)",
                 p.lm_head.file->path);
    }
    free(scratch);
    gpt2_save_checkpoint(&model, output, bf16);
    printf("output:     %s (llm.c %s, %.1f MB) in %.1f s\n", output, bf16 ? "bf16 v5" : "fp32 v3",
           (1024.0 + llmc_parameters * (bf16 ? 2.0 : 4.0)) / 1e6, now_seconds() - t0);
    gpt2_free(&model);
    free_plan(&p);
}

// ---------------------------------------------------------------------------------------------
// llm.c -> HF

static void write_json(AtomicFile *af, const cJSON *root) {
    char *text = cJSON_Print(root);
    if (!text) die("out of memory formatting %s", af->final_path);
    fwrite_or_die(text, 1, strlen(text), af->f, af->tmp_path);
    fwrite_or_die("\n", 1, 1, af->f, af->tmp_path);
    cJSON_free(text);
}

static cJSON *hf_config_json(const GPT2Config *c, int bf16) {
    cJSON *root = cJSON_CreateObject();
    cJSON *archs = cJSON_AddArrayToObject(root, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString("GPT2LMHeadModel"));
    cJSON_AddStringToObject(root, "model_type", "gpt2");
    cJSON_AddStringToObject(root, "activation_function", "gelu_new");
    cJSON_AddNumberToObject(root, "n_layer", c->num_layers);
    cJSON_AddNumberToObject(root, "n_head", c->num_heads);
    cJSON_AddNumberToObject(root, "n_embd", c->channels);
    cJSON_AddNumberToObject(root, "n_positions", c->max_seq_len);
    cJSON_AddNumberToObject(root, "n_ctx", c->max_seq_len);
    cJSON_AddNullToObject(root, "n_inner");
    cJSON_AddNumberToObject(root, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(root, "layer_norm_epsilon", 1e-5);
    cJSON_AddNumberToObject(root, "initializer_range", 0.02);
    // llm.c trains without dropout; say so, so that fine-tuning in HF starts from the same setting.
    cJSON_AddNumberToObject(root, "attn_pdrop", 0.0);
    cJSON_AddNumberToObject(root, "embd_pdrop", 0.0);
    cJSON_AddNumberToObject(root, "resid_pdrop", 0.0);
    cJSON_AddTrueToObject(root, "scale_attn_weights");
    cJSON_AddTrueToObject(root, "tie_word_embeddings");
    cJSON_AddTrueToObject(root, "use_cache");
    cJSON_AddStringToObject(root, "torch_dtype", bf16 ? "bfloat16" : "float32");
    if (c->vocab_size == 50257) {   // GPT-2's <|endoftext|>
        cJSON_AddNumberToObject(root, "bos_token_id", 50256);
        cJSON_AddNumberToObject(root, "eos_token_id", 50256);
    }
    return root;
}

// A tokenizer file from dir under its HF name or the name OpenAI's/npm's release uses.
static char *find_tokenizer_file(const char *dir, const char *hf_name, const char *openai_name) {
    char *a = path_join(dir, hf_name);
    if (file_exists(a)) return a;
    char *b = path_join(dir, openai_name);
    if (file_exists(b)) { free(a); return b; }
    die("--tokenizer_dir: %s has neither %s nor %s (give the directory holding the GPT-2 tokenizer files)", dir, hf_name, openai_name);
}

// Files of the other Hugging Face weight layouts (sharded safetensors, pickles, TF/Flax): next to
// the model.safetensors written here, loaders would pick them or mix them in.
static int is_other_weight_file(const char *name) {
    static const char *exact[] = {"model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
                                  "tf_model.h5", "flax_model.msgpack"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (!strcmp(name, exact[i])) return 1;
    int a, b, end = 0;
    size_t n = strlen(name);
    if (sscanf(name, "model-%d-of-%d.safetensors%n", &a, &b, &end) == 2 && (size_t)end == n) return 1;
    if (sscanf(name, "pytorch_model-%d-of-%d.bin%n", &a, &b, &end) == 2 && (size_t)end == n) return 1;
    return 0;
}

// --to_hf --output DIR: a new or empty directory; a non-empty one only with --overwrite, and never
// one holding another weight layout. Checked before any work.
static void check_hf_output_dir(const char *dir, int overwrite, const char *tokenizer_dir) {
    struct stat st;
    if (stat(dir, &st) != 0) return;   // created later (make_dirs_or_die names any problem)
    if (!S_ISDIR(st.st_mode)) die("--output: %s exists and is not a directory (with --to_hf give the directory to write)", dir);
    DIR *d = opendir(dir);
    if (!d) die("--output: cannot read %s: %s (choose a readable, writable directory)", dir, strerror(errno));
    int empty = 1, kept_tokenizer = 0;
    char other[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        empty = 0;
        if (!other[0] && is_other_weight_file(e->d_name)) snprintf(other, sizeof other, "%s", e->d_name);
        if (!strcmp(e->d_name, "vocab.json") || !strcmp(e->d_name, "merges.txt") || !strcmp(e->d_name, "tokenizer.json"))
            kept_tokenizer = 1;
    }
    closedir(d);
    if (empty) return;
    if (!overwrite)
        die("--output: %s already exists and is not empty (pass --overwrite to replace the model files in it, "
            "or choose another directory)", dir);
    if (other[0])
        die("--output: %s holds %s, weights in another layout that loaders would use instead of or mix with the "
            "model.safetensors written here (remove it, or choose another directory)", dir, other);
    if (kept_tokenizer && !tokenizer_dir)
        warn("--output: %s keeps the tokenizer files already there (pass --tokenizer_dir to replace them)", dir);
}

static void convert_to_hf(const char *input, const char *dir, const char *tokenizer_dir, int overwrite) {
    double t0 = now_seconds();
    check_hf_output_dir(dir, overwrite, tokenizer_dir);
    GPT2 model;
    gpt2_init_from_checkpoint(&model, input);   // validates the whole file
    // The file's version says whether it holds bf16 values: then the HF file keeps BF16, losslessly.
    int32_t head[2];
    FILE *f = fopen_or_die(input, "rb", NULL);
    fread_or_die(head, sizeof(int32_t), 2, f, input);
    fclose(f);
    int bf16 = head[1] == GPT2_VERSION_BF16;
    const GPT2Config *c = &model.config;
    size_t V = c->vocab_size, Vp = c->padded_vocab_size, C = c->channels;
    int64_t L = c->num_layers;

    size_t sizes[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(c, sizes);
    float *base[GPT2_NUM_PARAM_TENSORS];
    base[0] = model.params_memory;
    for (int i = 1; i < GPT2_NUM_PARAM_TENSORS; i++) base[i] = base[i - 1] + sizes[i - 1];
    for (size_t i = V * C; i < Vp * C; i++) {
        if (base[GPT2_WTE][i] != 0.0f) {
            warn("%s: padded vocabulary rows of wte are not zero; HF has no such rows, so they are dropped", input);
            break;
        }
    }

    // Tokenizer files are checked before anything is written.
    char *vocab_path = NULL, *merges_path = NULL;
    char *vocab_text = NULL, *merges_text = NULL;
    size_t vocab_len = 0, merges_len = 0;
    if (tokenizer_dir) {
        if (!dir_exists(tokenizer_dir)) die("--tokenizer_dir: %s is not a directory (give the directory with vocab.json and merges.txt)", tokenizer_dir);
        vocab_path = find_tokenizer_file(tokenizer_dir, "vocab.json", "encoder.json");
        merges_path = find_tokenizer_file(tokenizer_dir, "merges.txt", "vocab.bpe");
        vocab_text = read_file_or_die(vocab_path, &vocab_len);
        cJSON *vocab = cJSON_ParseWithLength(vocab_text, vocab_len);
        if (!cJSON_IsObject(vocab)) die("--tokenizer_dir: %s is not a JSON object of token -> id (give GPT-2's vocab.json)", vocab_path);
        int entries = cJSON_GetArraySize(vocab);
        cJSON_Delete(vocab);
        if ((size_t)entries != V)
            die("--tokenizer_dir: %s has %d tokens but the model's vocabulary is %zu (give the tokenizer the model was trained with)",
                vocab_path, entries, V);
        merges_text = read_file_or_die(merges_path, &merges_len);
        if (strncmp(merges_text, "#version", 8) != 0)
            die("--tokenizer_dir: %s does not start with '#version' (give GPT-2's merges.txt / vocab.bpe)", merges_path);
    }

    make_dirs_or_die(dir);
    char *st_path = path_join(dir, "model.safetensors");
    char *config_path = path_join(dir, "config.json");
    char *gen_path = path_join(dir, "generation_config.json");

    // HF names and shapes, in llm.c's order; Conv1D weights transposed back to (in, out).
    int n = 4 + NUM_LAYER_TENSORS * (int)L;
    SafeTensorSpec *specs = calloc_or_die(n, sizeof(SafeTensorSpec));
    const float **sources = calloc_or_die(n, sizeof(float *));
    int *transposed = calloc_or_die(n, sizeof(int));
    char (*names)[96] = calloc_or_die(n, sizeof *names);
    SafeDType dtype = bf16 ? SAFE_BF16 : SAFE_F32;
    int k = 0;
#define ADD_SPEC(src, conv, d0, d1) do { \
        specs[k].name = names[k]; specs[k].dtype = dtype; specs[k].ndim = (d1) ? 2 : 1; \
        specs[k].shape[0] = (d0); specs[k].shape[1] = (d1); sources[k] = (src); transposed[k] = (conv); k++; } while (0)
    snprintf(names[k], sizeof names[k], "transformer.wte.weight");
    ADD_SPEC(base[GPT2_WTE], 0, (int64_t)V, (int64_t)C);   // first V rows only
    snprintf(names[k], sizeof names[k], "transformer.wpe.weight");
    ADD_SPEC(base[GPT2_WPE], 0, c->max_seq_len, (int64_t)C);
    for (int64_t l = 0; l < L; l++) {
        for (int j = 0; j < NUM_LAYER_TENSORS; j++) {
            const LayerTensor *lt = &LAYER_TENSORS[j];
            int64_t rows, cols;
            llmc_layer_shape(c, lt->llmc_index, &rows, &cols);
            size_t per_layer = sizes[lt->llmc_index] / L;
            snprintf(names[k], sizeof names[k], "transformer.h.%lld.%s", (long long)l, lt->hf_suffix);
            if (lt->conv1d) ADD_SPEC(base[lt->llmc_index] + l * per_layer, 1, cols, rows);
            else ADD_SPEC(base[lt->llmc_index] + l * per_layer, 0, rows, cols);
        }
    }
    snprintf(names[k], sizeof names[k], "transformer.ln_f.weight");
    ADD_SPEC(base[GPT2_LNFW], 0, (int64_t)C, 0);
    snprintf(names[k], sizeof names[k], "transformer.ln_f.bias");
    ADD_SPEC(base[GPT2_LNFB], 0, (int64_t)C, 0);
#undef ADD_SPEC

    // All files go to temporary names and are renamed only when every one is complete.
    AtomicFile st_file, config_file, gen_file, vocab_file, merges_file, tok_config_file;
    atomic_open(&st_file, st_path);
    safetensors_write_header(st_file.f, st_file.tmp_path, specs, n, "pt");
    size_t max_elements = 4 * C * C > V * C ? 4 * C * C : V * C;
    float *scratch = malloc_or_die(max_elements * sizeof(float));
    uint16_t *half = bf16 ? malloc_or_die(max_elements * sizeof(uint16_t)) : NULL;
    for (int i = 0; i < n; i++) {
        size_t count = specs[i].shape[0] * (specs[i].ndim == 2 ? specs[i].shape[1] : 1);
        const float *values = sources[i];
        if (transposed[i]) {   // HF (in, out) = (shape[0], shape[1]); llm.c holds (shape[1], shape[0])
            transpose(scratch, sources[i], specs[i].shape[1], specs[i].shape[0]);
            values = scratch;
        }
        if (bf16) {
            // Exact: the values came from bf16 in the checkpoint.
            for (size_t e = 0; e < count; e++) half[e] = float_to_bf16_round(values[e]);
            fwrite_or_die(half, sizeof(uint16_t), count, st_file.f, st_file.tmp_path);
        } else {
            fwrite_or_die(values, sizeof(float), count, st_file.f, st_file.tmp_path);
        }
    }
    free(scratch);
    free(half);

    cJSON *config = hf_config_json(c, bf16);
    atomic_open(&config_file, config_path);
    write_json(&config_file, config);
    cJSON_Delete(config);
    cJSON *gen = cJSON_CreateObject();
    cJSON_AddTrueToObject(gen, "_from_model_config");
    if (V == 50257) {
        cJSON_AddNumberToObject(gen, "bos_token_id", 50256);
        cJSON_AddNumberToObject(gen, "eos_token_id", 50256);
    }
    atomic_open(&gen_file, gen_path);
    write_json(&gen_file, gen);
    cJSON_Delete(gen);
    if (tokenizer_dir) {
        char *p = path_join(dir, "vocab.json");
        atomic_open(&vocab_file, p);
        fwrite_or_die(vocab_text, 1, vocab_len, vocab_file.f, vocab_file.tmp_path);
        free(p);
        p = path_join(dir, "merges.txt");
        atomic_open(&merges_file, p);
        fwrite_or_die(merges_text, 1, merges_len, merges_file.f, merges_file.tmp_path);
        free(p);
        p = path_join(dir, "tokenizer_config.json");
        cJSON *tok = cJSON_CreateObject();
        cJSON_AddStringToObject(tok, "tokenizer_class", "GPT2Tokenizer");
        cJSON_AddNumberToObject(tok, "model_max_length", c->max_seq_len);
        atomic_open(&tok_config_file, p);
        write_json(&tok_config_file, tok);
        cJSON_Delete(tok);
        free(p);
        atomic_commit_or_die(&vocab_file);
        atomic_commit_or_die(&merges_file);
        atomic_commit_or_die(&tok_config_file);
    }
    atomic_commit_or_die(&st_file);
    atomic_commit_or_die(&gen_file);
    atomic_commit_or_die(&config_file);   // last: a directory with config.json is complete

    printf("input:      %s (llm.c %s, L=%d C=%d NH=%d V=%zu maxT=%d)\n", input, bf16 ? "bf16" : "fp32",
           c->num_layers, c->channels, c->num_heads, V, c->max_seq_len);
    printf("output:     %s (config.json, generation_config.json, model.safetensors %s, %d tensors%s) in %.1f s\n",
           dir, bf16 ? "BF16" : "F32", n, tokenizer_dir ? ", vocab.json, merges.txt, tokenizer_config.json" : "",
           now_seconds() - t0);
    free(vocab_path); free(merges_path); free(vocab_text); free(merges_text);
    free(specs); free(sources); free(transposed); free(names);
    free(st_path); free(config_path); free(gen_path);
    gpt2_free(&model);
}

// ---------------------------------------------------------------------------------------------

int main(int argc, char **argv) {
    set_program_name(argv[0]);
    const char *input = NULL, *output = NULL, *tokenizer_dir = NULL;
    int bf16 = 0, to_hf = 0, dry_run = 0, overwrite = 0;
    ArgSpec specs[] = {
        {"input", ARG_STRING, &input, "Hugging Face model directory (config.json + model.safetensors, or sharded: model.safetensors.index.json + its shards), or with --to_hf an llm.c .bin", 1, 0, 0},
        {"output", ARG_STRING, &output, "llm.c model file to write (.bin), or with --to_hf the directory to write", 1, 0, 0},
        {"bf16", ARG_BOOL, &bf16, "write the .bin in bf16 (llm.c version 5) instead of fp32 (version 3)", 1, 0, 0},
        {"to_hf", ARG_BOOL, &to_hf, "convert the other way: llm.c .bin -> Hugging Face directory", 1, 0, 0},
        {"tokenizer_dir", ARG_STRING, &tokenizer_dir, "with --to_hf: directory with vocab.json + merges.txt (or encoder.json + vocab.bpe) to copy", 1, 0, 0},
        {"overwrite", ARG_BOOL, &overwrite, "with --to_hf: write into an --output directory that is not empty, replacing the files convert_hf writes", 1, 0, 0},
        {"dry_run", ARG_BOOL, &dry_run, "check config.json and every tensor's name, shape and dtype, print the plan, write nothing", 1, 0, 0},
    };
    int num_specs = sizeof specs / sizeof specs[0];
    parse_args(argc, argv, specs, num_specs,
               "Convert GPT-2 between Hugging Face (config.json + safetensors) and llm.c's model file.\n"
               "  convert_hf --input DIR --output FILE.bin [--bf16] [--dry_run]\n"
               "  convert_hf --to_hf --input FILE.bin --output DIR [--tokenizer_dir D] [--overwrite]");
    if (!input) die("--input is required (a Hugging Face model directory, or an llm.c .bin with --to_hf; see --help)");
    if (!output && !dry_run) die("--output is required (the .bin to write, or the directory with --to_hf; see --help)");
    if (to_hf) {
        if (bf16) die("--bf16 does not apply with --to_hf (the safetensors dtype follows the checkpoint: F32 or BF16)");
        if (dry_run) die("--dry_run applies to HF -> llm.c only (drop it with --to_hf)");
        if (!file_exists(input)) die("--input: %s is not a file (with --to_hf give an llm.c model .bin)", input);
        convert_to_hf(input, output, tokenizer_dir, overwrite);
    } else {
        if (overwrite) die("--overwrite applies with --to_hf only (the .bin given to --output is replaced when it exists)");
        if (tokenizer_dir) die("--tokenizer_dir applies with --to_hf only (the llm.c tokenizer is gpt2_tokenizer.bin; see make vocab)");
        if (!dir_exists(input)) {
            const char *base = strrchr(input, '/') ? strrchr(input, '/') + 1 : input;
            if (!strcmp(base, "pytorch_model.bin"))
                die("--input: %s is a pickle file, which is not parsed because unpickling can run arbitrary code; "
                    "convert it to model.safetensors on a trusted machine (python: "
                    "GPT2LMHeadModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True))", input);
            die("--input: %s is not a directory (give the Hugging Face model directory holding config.json and model.safetensors)", input);
        }
        convert_from_hf(input, output, bf16, dry_run);
    }
    return 0;
}
