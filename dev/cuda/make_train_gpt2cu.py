#!/usr/bin/env python3
"""Writes train_gpt2.cu from train_gpt2.c: the GPU trainer is the CPU trainer with the model calls
swapped for llmc/gpt2_cuda.cuh, so the two stay line-for-line comparable. Each edit names the exact
CPU text it replaces and fails loudly when that text is gone (then update the edit here).

    /usr/bin/python3 dev/cuda/make_train_gpt2cu.py            # rewrite train_gpt2.cu
    /usr/bin/python3 dev/cuda/make_train_gpt2cu.py --check    # exit 1 if train_gpt2.cu is stale
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HEADER_CPU = """// train_gpt2: the CPU (fp32) reference trainer of memlens. Fine-tunes a pretrained GPT-2 or
// trains one from scratch on example-aligned shards, with AdamW, an LR schedule, gradient
// clipping and accumulation, validation loss, checkpoints and bitwise-exact resume.
//"""
HEADER_GPU = """// train_gpt2cu: the GPU trainer of memlens, train_gpt2.c's twin. Same flags (llmc/train_args.h),
// data loading, checkpoints, logs and bitwise-exact resume; the model runs on one GPU in bf16
// mixed precision (fp32 master weights and AdamW state) or, with --precision fp32, fully in fp32
// (llmc/gpt2_cuda.cuh and the kernels in llmc/*.cuh). Read it side by side with train_gpt2.c:
// the structure and names are the same; the differences are marked "GPU:".
// GENERATED from train_gpt2.c by dev/cuda/make_train_gpt2cu.py: edit that script, not this file.
//
// Checkpoints are written from the CPU: the fp32 master weights and the AdamW moments are copied
// back from the GPU and saved with the same llmc code (llm.c model file + state file).
//"""

TAKE_PRECISION = """// GPU: --precision is the one flag train_gpt2 does not have. It is taken out of argv before the
// shared parser sees the rest ("--precision bf16" or "--precision=bf16").
static Precision take_precision_flag(int *argc, char **argv) {
    Precision precision = PRECISION_BF16;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *value = NULL;
        if (strcmp(argv[i], "--precision") == 0) {
            if (i + 1 >= *argc) die("--precision needs a value (use --precision bf16 or --precision fp32)");
            value = argv[++i];
        } else if (strncmp(argv[i], "--precision=", 12) == 0) {
            value = argv[i] + 12;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        if (strcmp(value, "bf16") == 0) precision = PRECISION_BF16;
        else if (strcmp(value, "fp32") == 0) precision = PRECISION_FP32;
        else die("--precision %s: unknown precision (use --precision bf16 or --precision fp32)", value);
    }
    *argc = out;
    argv[out] = NULL;
    return precision;
}

"""

ZERO1_CPU = """static float zero1_adamw_step(AdamW *opt, GPT2 *model, const AdamWHyper *h) {
    size_t first, count = dist_zero_shard(model->num_parameters, dist.world_size, dist.rank, &first);
    double sumsq = gpt2_grad_sumsq(model, first, count);
    dist_allreduce_sum_double(&dist, &sumsq, 1, "gradient norm");
    float norm = (float)sqrt(sumsq);
    adamw_step_range(opt, model, h, norm, first, count);
    dist_allgather_float(&dist, model->params_memory, model->num_parameters, "updated weights");
    return norm;
}

// A checkpoint holds the whole optimizer state, in the format of a run without ZeRO: every rank's
// shard of the moments to every rank (rank 0 writes them).
static void zero1_gather_moments(AdamW *opt) {
    dist_allgather_float(&dist, opt->m, opt->num_parameters, "AdamW moments");
    dist_allgather_float(&dist, opt->v, opt->num_parameters, "AdamW moments");
}
"""
ZERO1_GPU = """// GPU: the shard and its moments were set by gpt2cu_init_sharded; the weights are all-gathered in
// the padded layout, then the bf16 working copy is refreshed from them.
static float zero1_adamw_step(GPT2Cuda *model, const AdamWHyper *h) {
    double sumsq = gpt2cu_grad_sumsq(model, model->shard_first, model->shard_count);
    dist_allreduce_sum_double(&dist, &sumsq, 1, "gradient norm");
    float norm = (float)sqrt(sumsq);
    gpt2cu_adamw_step_with_norm(model, h, norm);
    dist_gpu_allgather_float(&nccl, model->master, model->shard_stride, model->stream, "updated weights");
    gpt2cu_refresh_working_copy(model);
    return norm;
}

// A checkpoint holds the whole optimizer state, in the format of a run without ZeRO: every rank's
// shard of the moments to every rank (rank 0 writes them). GPU: each shard goes through the
// gradient buffer (padded alike, and free until the next step zeroes it), then to rank 0's host.
static void zero1_gather_moments(GPT2Cuda *model, AdamW *opt) {
    float *host[2] = {opt->m, opt->v};
    const float *shard[2] = {model->opt_m, model->opt_v};
    float *mine = model->grads + (size_t)model->shard_rank * model->shard_stride;
    for (int k = 0; k < 2; k++) {
        cuda_check(cudaMemcpyAsync(mine, shard[k], model->shard_stride * sizeof(float), cudaMemcpyDeviceToDevice, model->stream));
        dist_gpu_allgather_float(&nccl, model->grads, model->shard_stride, model->stream, "AdamW moments");
        cuda_check(cudaStreamSynchronize(model->stream));
        if (dist_is_main(&dist))  // the writer
            cuda_check(cudaMemcpy(host[k], model->grads, model->num_parameters * sizeof(float), cudaMemcpyDeviceToHost));
    }
    opt->step = model->opt_step;
}
"""

# (CPU text, GPU text), applied in order; each CPU text must occur exactly once.
EDITS = [
    (HEADER_CPU, HEADER_GPU),
    ('#include "llmc/adamw.h"\n',
     '#include "llmc/dist_nccl.cuh"\n#include "llmc/gpt2_cuda.cuh"\n\nextern "C" {\n#include "llmc/adamw.h"\n'),
    ('#include "llmc/utils.h"\n', '#include "llmc/utils.h"\n}\n'),
    ('"Train GPT-2 on the CPU (fp32) on memlens shards: every row is one example from its first token.\\n"',
     '"Train GPT-2 on one GPU, or on one GPU per rank (NCCL), on memlens shards: every row is one example\\n"\n'
     '    "from its first token.\\n"'),
    ('--resume gives bitwise the same model.bin.";',
     '--resume gives bitwise the same model.bin.\\n"\n'
     '    "Several GPUs: mpirun -np N train_gpt2cu ..., or srun train_gpt2cu ... (with PMI); without MPI, any\\n"\n'
     '    "launcher that sets SLURM_PROCID/SLURM_STEP_NUM_TASKS or MEMLENS_RANK/MEMLENS_WORLD_SIZE, with --nccl_init file:/tcp:.\\n"\n'
     '    "GPU flags (besides those below):\\n"\n'
     '    "  --precision bf16|fp32    bf16 mixed precision (default) or full fp32 for checking\\n"\n'
     '    "  --nccl_init METHOD       how the ranks share the NCCL id: mpi (default), file:/shared/dir/nccl_id\\n"\n'
     '    "                           (a path every node sees) or tcp:HOST:PORT (HOST: rank 0\'s node)\\n"\n'
     '    "  --gpu N                  this rank\'s GPU on its node (default: the local rank\'s, or the only one visible)";'),
    ('static char *run_identity(const TrainArgs *a, const GPT2 *model, const ModelOrigin *origin, const TrainPlan *p) {\n'
     '    cJSON *id = cJSON_CreateObject();\n',
     'static char *run_identity(const TrainArgs *a, const GPT2 *model, const ModelOrigin *origin, const TrainPlan *p,\n'
     '                          Precision precision) {\n'
     '    cJSON *id = cJSON_CreateObject();\n'
     '    // GPU: the precision changes every bit of the run, so a checkpoint continues only its own.\n'
     '    cJSON_AddStringToObject(id, "precision", precision == PRECISION_BF16 ? "bf16" : "fp32");\n'),
    ('const DataLoader *train, const DataLoader *val, int threads, int64_t resumed_from) {',
     'const DataLoader *train, const DataLoader *val, int threads, int64_t resumed_from,\n'
     '                           Precision precision, const cudaDeviceProp *gpu) {'),
    ('cJSON_AddStringToObject(root, "program", "train_gpt2");', 'cJSON_AddStringToObject(root, "program", "train_gpt2cu");'),
    ('    cJSON_AddNumberToObject(t, "threads", threads);\n',
     '    cJSON_AddNumberToObject(t, "threads", threads);\n'
     '    cJSON_AddStringToObject(t, "precision", precision == PRECISION_BF16 ? "bf16" : "fp32");\n'
     '    cJSON_AddStringToObject(t, "gpu", gpu->name);\n'),
    ('static Dist dist;\n',
     'static Dist dist;\n'
     '// GPU: the NCCL communicator of the ranks (llmc/dist_nccl.cuh); every collective goes through it.\n'
     'static DistNccl nccl;\n'),
    ('static double validation_loss(GPT2 *model, DataLoader *val, size_t n) {',
     'static double validation_loss(GPT2Cuda *model, DataLoader *val, size_t n) {'),
    ('        gpt2_forward(model, val->inputs, val->targets, rows, val->T);',
     '        gpt2cu_forward(model, val->inputs, val->targets, rows, val->T);'),
    # --mem_eval_every: the probe's forward on the device (within the training B x T: the plan
    # guarantees it), the argmax there too, so only B*T ids come back per pass.
    ('static void mem_eval_argmax(void *model, const int *inputs, int rows, int T, int *argmax) {\n'
     '    gpt2_forward((GPT2 *)model, inputs, NULL, rows, T);\n'
     '    gpt2_argmax_positions((GPT2 *)model, argmax);\n',
     'static void mem_eval_argmax(void *model, const int *inputs, int rows, int T, int *argmax) {\n'
     '    gpt2cu_forward((GPT2Cuda *)model, inputs, NULL, rows, T);\n'
     '    gpt2cu_argmax((GPT2Cuda *)model, argmax);  // GPU: argmax on the device (llmc/gpt2_cuda.cuh)\n'),
    ('mem_eval_run(&mem, mem_eval_argmax, &model)', 'mem_eval_run(&mem, mem_eval_argmax, &gmodel)'),
    ('    char *tmp = malloc_or_die(n);', '    char *tmp = (char *)malloc_or_die(n);'),
    (ZERO1_CPU, ZERO1_GPU),
    ('// ---------------------------------------------------------------------------------------------\n\nint main(',
     '// ---------------------------------------------------------------------------------------------\n\n' + TAKE_PRECISION +
     '// ---------------------------------------------------------------------------------------------\n\nint main('),
    ('    dist_init(&dist, &argc, &argv);\n',
     '    // GPU: --nccl_init decides how the ranks meet: through MPI, or without it (file / TCP rendezvous).\n'
     '    DistGpuFlags gpu_flags = dist_gpu_take_flags(&argc, argv);\n'
     '    dist_gpu_launch(&dist, &argc, &argv, &gpu_flags);\n'),
    ('    TrainArgs args;\n    train_args_parse(&args, argc, argv, DESCRIPTION);',
     '    Precision precision = take_precision_flag(&argc, argv);\n'
     '    TrainArgs args;\n    train_args_parse(&args, argc, argv, DESCRIPTION);'),
    ('    GPT2 model;\n',
     '    // GPU: this rank\'s GPU (the local rank\'s unless --gpu says), new enough, before the model is\n'
     '    // read; then the communicator of the ranks.\n'
     '    int device = dist_gpu_pick_device(&dist, gpu_flags.gpu);\n'
     '    cudaDeviceProp gpu = gpu_check_device_at(precision, device);\n'
     '    dist_gpu_setup(&nccl, &dist, &gpu_flags, device);\n\n'
     '    GPT2 model;  // host copy: checkpoints are read into it and written from it\n'),
    ('    AdamW opt;\n',
     '    // GPU: allocate everything now (an out-of-memory error names the batch size that fits) and\n'
     '    // upload the starting weights, before anything is written to --output_dir.\n'
     '    GPT2Cuda gmodel;\n'
     '    // ZeRO-1: this rank keeps the moments of its shard only.\n'
     '    int zero1 = args.zero_stage == 1;\n'
     '    gpt2cu_init_sharded(&gmodel, &model, precision, plan.B, plan.T, "--per_device_train_batch_size",\n'
     '                        zero1 ? dist.world_size : 1, zero1 ? dist.rank : 0, dist.world_size);\n\n'
     '    AdamW opt;  // host copy of the moments: filled from the GPU for checkpoints, and on resume\n'),
    ('    char *identity = run_identity(&args, &model, &origin, &plan);',
     '    char *identity = run_identity(&args, &model, &origin, &plan, precision);'),
    ('            if (gpt2_init_from_checkpoint_try(&model, model_path, why, sizeof why) != 0) die("--resume: %s", why);\n',
     '            if (gpt2_init_from_checkpoint_try(&model, model_path, why, sizeof why) != 0) die("--resume: %s", why);\n'
     '            // GPU: continue from exactly these weights and moments (the bf16 copy is re-derived\n'
     '            // from the master weights, as after every AdamW step).\n'
     '            gpt2cu_upload_params(&gmodel, &model);\n'
     '            gpt2cu_upload_optimizer(&gmodel, &opt);\n'),
    ('            if (st.threads != threads)\n'
     '                warn("the checkpoint was made with %lld threads, this run uses %d: the result may differ in the last bits (use --threads %lld)",\n'
     '                     (long long)st.threads, threads, (long long)st.threads);\n',
     '            // GPU: the host thread count does not change the GPU results.\n'),
    ('        printf("ZeRO-1: each rank updates at most %zu of the %zu weights (the CPU keeps all AdamW moments)\\n", shard,\n'
     '               model.num_parameters);\n',
     '        printf("ZeRO-1: each rank updates at most %zu of the %zu weights and keeps only their AdamW moments on its "\n'
     '               "GPU: %.3f GiB instead of %.3f GiB\\n", shard, model.num_parameters,\n'
     '               gmodel.shard_stride * 8.0 / 1073741824.0, model.num_parameters * 8.0 / 1073741824.0);\n'),
    ('build_config(&args, &model, &origin, &plan, &train, val, threads, resumed_from);',
     'build_config(&args, &model, &origin, &plan, &train, val, threads, resumed_from, precision, &gpu);'),
    ('    printf("train_gpt2 %s: %s, %zu parameters (L=%d C=%d H=%d V=%d), %d threads\\n", MEMLENS_VERSION, origin.source,',
     '    printf("train_gpt2cu %s: %s, %zu parameters (L=%d C=%d H=%d V=%d), %s on %s\\n", MEMLENS_VERSION, origin.source,'),
    ('           model.config.vocab_size, threads);',
     '           model.config.vocab_size, precision == PRECISION_BF16 ? "bf16" : "fp32", gpu.name);'),
    ('        gpt2_zero_grad(&model);', '        gpt2cu_zero_grad(&gmodel);'),
    ('            gpt2_forward(&model, train.inputs, train.targets, rows, plan.T);',
     '            gpt2cu_forward(&gmodel, train.inputs, train.targets, rows, plan.T);'),
    ('            gpt2_backward(&model, share);\n            loss += model.mean_loss * share;',
     '            gpt2cu_backward(&gmodel, share);\n            loss += gmodel.mean_loss * share;'),
    ('        if (dist.world_size > 1) {\n'
     '            // Each rank\'s gradient is already weighted by its share of the step: the sum is the mean.\n'
     '            if (model.grads_pending_zero) {  // this rank had no rows: its part is zero\n'
     '                memset(model.grads_memory, 0, model.num_parameters * sizeof(float));\n'
     '                model.grads_pending_zero = 0;\n'
     '            }\n'
     '            if (args.zero_stage == 1)  // this rank\'s shard only: the rest is not used (zero1_adamw_step)\n'
     '                dist_reduce_scatter_sum_float(&dist, model.grads_memory, model.num_parameters, "gradients");\n'
     '            else\n'
     '                dist_allreduce_sum_float(&dist, model.grads_memory, model.num_parameters, "gradients");\n',
     '        if (nccl.active) {\n'
     '            // Each rank\'s gradient is already weighted by its share of the step: the sum is the mean.\n'
     '            // GPU: summed on the device; a rank that had no rows adds the zeros of gpt2cu_zero_grad.\n'
     '            if (args.zero_stage == 1)  // this rank\'s shard only: the rest is not used (zero1_adamw_step)\n'
     '                dist_gpu_reduce_scatter_sum_float(&nccl, gmodel.grads, gmodel.shard_stride, gmodel.stream, "gradients");\n'
     '            else\n'
     '                dist_gpu_allreduce_sum_float(&nccl, gmodel.grads, gmodel.num_parameters, gmodel.stream, "gradients");\n'),
    ('        float grad_norm = args.zero_stage == 1 ? zero1_adamw_step(&opt, &model, &hyper) : adamw_step(&opt, &model, &hyper);',
     '        float grad_norm = args.zero_stage == 1 ? zero1_adamw_step(&gmodel, &hyper) : gpt2cu_adamw_step(&gmodel, &hyper);'),
    ('        if (do_save && args.zero_stage == 1) zero1_gather_moments(&opt);  // a collective: every rank',
     '        if (do_save && args.zero_stage == 1) zero1_gather_moments(&gmodel, &opt);  // a collective: every rank'),
    ('            last_val = validation_loss(&model, val, val_examples);', '            last_val = validation_loss(&gmodel, val, val_examples);'),
    ('        last_val = validation_loss(&model, val, val_examples);', '        last_val = validation_loss(&gmodel, val, val_examples);'),
    ('            save_checkpoint(&args, &model, &opt, &st, previous_checkpoint);',
     '            gpt2cu_download_params(&gmodel, &model);  // GPU: fp32 master weights and moments to the host\n'
     '            if (args.zero_stage != 1) gpt2cu_download_optimizer(&gmodel, &opt);  // (ZeRO-1 gathered them above)\n'
     '            save_checkpoint(&args, &model, &opt, &st, previous_checkpoint);'),
    ('    test_kill_point("before_final_model", plan.total_steps);\n',
     '    test_kill_point("before_final_model", plan.total_steps);\n    gpt2cu_download_params(&gmodel, &model);\n'),
    ('    adamw_free(&opt);\n    gpt2_free(&model);', '    adamw_free(&opt);\n    gpt2cu_free(&gmodel);\n    gpt2_free(&model);'),
]


# Every remaining collective of the CPU trainer (MPI on host buffers) becomes its NCCL twin, so
# that the ranks of train_gpt2cu need no MPI at all with --nccl_init file:/tcp:. (CPU call, GPU
# call): each must occur at least once.
COLLECTIVES = [
    ('dist_allreduce_sum_double(&dist, ', 'dist_gpu_allreduce_sum_double(&nccl, '),
    ('dist_broadcast(&dist, ', 'dist_gpu_broadcast(&nccl, '),
    ('dist_barrier(&dist, ', 'dist_gpu_barrier(&nccl, '),
    ('dist_finalize(&dist)', 'dist_gpu_finalize(&nccl)'),
]


def generate(cpu):
    out = cpu
    for i, (old, new) in enumerate(EDITS):
        n = out.count(old)
        if n != 1:
            sys.exit("make_train_gpt2cu: edit %d expects its CPU text exactly once in train_gpt2.c, found %d:\n%s"
                     % (i, n, old[:200]))
        out = out.replace(old, new)
    for old, new in COLLECTIVES:
        if old not in out:
            sys.exit("make_train_gpt2cu: train_gpt2.c no longer calls %s (update COLLECTIVES here)" % old.strip())
        out = out.replace(old, new)
    # A host collective left over would sum nothing (no MPI with --nccl_init file:/tcp:) or the
    # host copy of the model: every one must have an NCCL twin.
    leftover = re.findall(r"\bdist_(?:allreduce_\w+|reduce_scatter_\w+|allgather_\w+|broadcast|barrier|gather_bytes|finalize)\(", out)
    if leftover:
        sys.exit("make_train_gpt2cu: train_gpt2.c has collectives with no NCCL twin: %s (add them to COLLECTIVES)"
                 % ", ".join(sorted(set(leftover))))
    # A CPU model call left over (a new code path in train_gpt2.c) would silently train the host
    # copy: every one must have been swapped for its gpt2cu_ twin.
    leftover = re.findall(r"\b(?:gpt2_forward|gpt2_forward_positions|gpt2_backward|gpt2_zero_grad|gpt2_grad_norm|"
                          r"gpt2_grad_sumsq|gpt2_argmax_positions|adamw_step|adamw_step_with_norm|adamw_step_range)\(", out)
    if leftover:
        sys.exit("make_train_gpt2cu: train_gpt2.c has CPU model calls with no GPU edit: %s (add edits here)"
                 % ", ".join(sorted(set(leftover))))
    return out


def main():
    cpu = open(os.path.join(ROOT, "train_gpt2.c")).read()
    gpu = generate(cpu)
    path = os.path.join(ROOT, "train_gpt2.cu")
    if "--check" in sys.argv[1:]:
        current = open(path).read() if os.path.exists(path) else ""
        if current != gpu:
            sys.exit("make_train_gpt2cu: train_gpt2.cu is stale (run /usr/bin/python3 dev/cuda/make_train_gpt2cu.py)")
        return
    tmp = path + ".tmp.%d" % os.getpid()
    with open(tmp, "w") as f:
        f.write(gpu)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
