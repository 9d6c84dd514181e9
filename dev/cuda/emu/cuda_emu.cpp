// The CPU emulator of dev/cuda/emu/cuda_emu.h: fibers for the threads of a block, the runtime calls,
// and cublasLtMatmul. x86-64 Linux only (the fiber switch is a few lines of assembly).
#include "cuda_emu.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>
#include <sys/sysinfo.h>

#include <map>
#include <vector>

EmuThreadIndex *emu_current_thread = nullptr;
uint3 blockIdx;
dim3 blockDim, gridDim;

[[noreturn]] static void emu_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cuda emulator: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

// ---------------------------------------------------------------------------------------------
// Fibers. emu_switch saves the callee-saved registers on the current stack, stores the stack
// pointer in *save and continues on the stack `next` (which was left the same way, or prepared by
// fiber_prepare to "return" into fiber_entry). MXCSR and the x87 control word are not switched:
// nothing here changes rounding modes.
extern "C" void emu_switch(void **save, void *next);
asm(".text\n"
    ".globl emu_switch\n"
    ".type emu_switch,@function\n"
    "emu_switch:\n"
    "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
    "  ret\n"
    ".size emu_switch, .-emu_switch\n");

enum FiberState { RUNNABLE, AT_BARRIER, AT_SHUFFLE, DONE };

struct Fiber {
    EmuThreadIndex index;  // first: emu_current_thread points here
    void *sp;
    char *stack;
    FiberState state;
    int lane;
    unsigned mask;         // AT_SHUFFLE: the operation's mask
    EmuWarpOp op;          // AT_SHUFFLE: which warp operation
    uint64_t offered, received;
    int src;
    const char *barrier_file;  // AT_BARRIER: the __syncthreads waited at
    int barrier_line;
};

static const size_t FIBER_STACK = 256 * 1024;
static std::vector<Fiber> fibers;
static void *scheduler_sp;
static Fiber *running;
static const std::function<void()> *kernel_body;

static void fiber_entry() {
    (*kernel_body)();
    running->state = DONE;
    emu_switch(&running->sp, scheduler_sp);
    abort();  // a finished fiber is never resumed
}

static void fiber_prepare(Fiber *f) {
    uintptr_t top = ((uintptr_t)(f->stack + FIBER_STACK)) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = nullptr;                 // fiber_entry's "return address" slot: keeps rsp % 16 == 8 at its entry
    *--sp = (void *)&fiber_entry;    // where emu_switch's ret goes
    for (int i = 0; i < 6; i++) *--sp = nullptr;  // rbp rbx r12 r13 r14 r15
    f->sp = sp;
}

static void yield_to_scheduler(FiberState state) {
    running->state = state;
    emu_switch(&running->sp, scheduler_sp);
}

void emu_syncthreads_at(const char *file, int line) {
    running->barrier_file = file;
    running->barrier_line = line;
    yield_to_scheduler(AT_BARRIER);
}

int emu_lane() { return running->lane; }

uint64_t emu_shuffle(unsigned mask, uint64_t value, int src, EmuWarpOp op) {
    if (!(mask >> running->lane & 1u))
        emu_die("block (%u,%u,%u) thread %u: a shuffle whose mask 0x%08x leaves out its own lane %d", blockIdx.x, blockIdx.y,
                blockIdx.z, running->index.thread_idx.x, mask, running->lane);
    running->mask = mask;
    running->op = op;
    running->offered = value;
    running->src = src;
    yield_to_scheduler(AT_SHUFFLE);
    return running->received;
}

void __syncwarp(unsigned mask) { (void)emu_shuffle(mask, 0, -1, EMU_SYNCWARP); }

// ---------------------------------------------------------------------------------------------
// Launches.
static cudaError_t last_error = cudaSuccess;
static std::map<const void *, int> max_dynamic_smem;  // from cudaFuncSetAttribute
static std::vector<unsigned char> dynamic_smem;
static unsigned long long block_serial = 0;                      // blocks run so far
static std::map<const void *, unsigned long long> shared_poisoned;  // static __shared__ array -> block that poisoned it

void *emu_dynamic_shared() { return dynamic_smem.data(); }

// A whole number from the environment within [lo, hi], or `otherwise` when unset.
static int env_int_in(const char *name, int lo, int hi, int otherwise, const char *what) {
    const char *s = getenv(name);
    if (!s || !*s) return otherwise;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) emu_die("%s=%s: give %d..%d (%s)", name, s, lo, hi, what);
    return (int)v;
}

// The most shared memory a block may opt into: A100's 163 KiB by default, the smallest of the GPUs
// memlens supports (H100: 227), so that a kernel sized for an H100 only fails here as on an A100.
static size_t optin_smem_limit() {
    static int kib = env_int_in("MEMLENS_EMU_SMEM_OPTIN_KIB", 48, 227, 163, "KiB of opt-in shared memory per block");
    return (size_t)kib * 1024;
}

// MEMLENS_EMU_MAX_GRID_Y: the grid's y extent the emulated GPU allows (65535, as every GPU), lower
// so that code which splits launches by the device's limit (the attention) can be tested with small
// grids. Kernels with a fixed y extent (layernorm's 32 column chunks) then fail, as they should.
static unsigned max_grid_y() {
    static int n = env_int_in("MEMLENS_EMU_MAX_GRID_Y", 1, 65535, 65535, "the largest grid y extent");
    return (unsigned)n;
}

// MEMLENS_EMU_DEVICES: how many "GPUs" the emulator shows (default 1), so that several ranks can
// each take their own, as NCCL requires. They share one memory: the process's.
static int emulated_devices() {
    static int n = env_int_in("MEMLENS_EMU_DEVICES", 1, 64, 1, "emulated GPUs");
    return n;
}
static int current_device = 0;

cudaError_t emu_func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value) {
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || (size_t)value > optin_smem_limit()) return cudaErrorInvalidValue;
    max_dynamic_smem[kernel] = value;
    return cudaSuccess;
}

// Lets the lanes of warp [w0, w1) that wait at shuffles of one mask go on, when every live lane of
// that mask waits at one. Returns whether any did.
static bool release_shuffles(int w0, int w1, int n) {
    bool released = false;
    for (int l = w0; l < w1; l++) {
        if (fibers[l].state != AT_SHUFFLE) continue;
        const unsigned mask = fibers[l].mask;
        bool complete = true;
        for (int j = w0; j < w1 && complete; j++)
            if (mask >> (j - w0) & 1u)
                complete = fibers[j].state == DONE || (fibers[j].state == AT_SHUFFLE && fibers[j].mask == mask);
        if (!complete) continue;
        for (int j = w0; j < w1; j++)
            if ((mask >> (j - w0) & 1u) && fibers[j].state == AT_SHUFFLE && fibers[j].op != fibers[l].op)
                emu_die("block (%u,%u,%u): lanes %d and %d of one warp meet at different warp operations (%d, %d) with mask "
                        "0x%08x", blockIdx.x, blockIdx.y, blockIdx.z, l, j, (int)fibers[l].op, (int)fibers[j].op, mask);
        for (int j = w0; j < w1; j++) {
            Fiber &f = fibers[j];
            if (!(mask >> (j - w0) & 1u) || f.state != AT_SHUFFLE) continue;
            if (f.src < 0) f.received = f.offered;
            else {
                const int s = w0 + f.src;
                if (f.src >= 32 || !(mask >> f.src & 1u) || s >= n || fibers[s].state != AT_SHUFFLE)
                    emu_die("block (%u,%u,%u) thread %d: a shuffle reads lane %d, which is not in mask 0x%08x or has exited",
                            blockIdx.x, blockIdx.y, blockIdx.z, j, f.src, mask);
                f.received = fibers[s].offered;
            }
        }
        for (int j = w0; j < w1; j++)
            if ((mask >> (j - w0) & 1u) && fibers[j].state == AT_SHUFFLE) fibers[j].state = RUNNABLE;
        released = true;
    }
    return released;
}

// Blocks, warps and lanes in ascending order, or descending with MEMLENS_EMU_WARP_ORDER=reverse (a
// race that one order hides, the other shows).
static bool reverse_order() {
    static int reverse = -1;
    if (reverse < 0) {
        const char *s = getenv("MEMLENS_EMU_WARP_ORDER");
        if (s && *s && strcmp(s, "reverse") != 0 && strcmp(s, "forward") != 0)
            emu_die("MEMLENS_EMU_WARP_ORDER=%s: give forward or reverse", s);
        reverse = s && strcmp(s, "reverse") == 0;
    }
    return reverse;
}

// Runs the lanes of warp [w0, w1) until each has exited or waits at __syncthreads (or at a shuffle
// that cannot complete yet): a warp races as far ahead of the others as the barriers allow, so a
// missing __syncthreads shows up as a read of shared memory another warp has not written yet, or
// has already overwritten.
static void run_warp(int w0, int w1, int n) {
    for (;;) {
        bool ran = false;
        for (int i = w0; i < w1; i++) {
            Fiber &f = fibers[reverse_order() ? w1 - 1 - (i - w0) : i];
            if (f.state != RUNNABLE) continue;
            running = &f;
            emu_current_thread = &f.index;
            emu_switch(&scheduler_sp, f.sp);
            ran = true;
        }
        if (!release_shuffles(w0, w1, n) && !ran) return;
    }
}

static void run_block(int n, const dim3 &block) {
    for (int t = 0; t < n; t++) {
        Fiber &f = fibers[t];
        f.index.thread_idx = uint3{(unsigned)t % block.x, (unsigned)(t / block.x) % block.y, (unsigned)(t / (block.x * block.y))};
        f.state = RUNNABLE;
        f.lane = t % 32;
        fiber_prepare(&f);
    }
    const int warps = (n + 31) / 32;
    for (;;) {
        for (int i = 0; i < warps; i++) {
            const int w = reverse_order() ? warps - 1 - i : i;
            run_warp(32 * w, 32 * w + 32 < n ? 32 * w + 32 : n, n);
        }
        int at_barrier = 0, at_shuffle = 0, done = 0;
        for (int t = 0; t < n; t++) {
            at_barrier += fibers[t].state == AT_BARRIER;
            at_shuffle += fibers[t].state == AT_SHUFFLE;
            done += fibers[t].state == DONE;
        }
        if (done == n) return;
        if (at_shuffle == 0) {  // every live thread at __syncthreads: the block goes on if it is one barrier
            int first = -1;
            for (int t = 0; t < n; t++) {
                if (fibers[t].state != AT_BARRIER) continue;
                if (first < 0) first = t;
                const Fiber &a = fibers[first], &b = fibers[t];
                if (b.barrier_line != a.barrier_line || strcmp(b.barrier_file, a.barrier_file) != 0)
                    emu_die("deadlock in block (%u,%u,%u) of %d threads: thread %d waits at the __syncthreads of %s:%d, "
                            "thread %d at the one of %s:%d", blockIdx.x, blockIdx.y, blockIdx.z, n, first, a.barrier_file,
                            a.barrier_line, t, b.barrier_file, b.barrier_line);
            }
            // Threads that have exited do not hold a barrier up (PTX bar.sync counts the live ones).
            for (int t = 0; t < n; t++)
                if (fibers[t].state == AT_BARRIER) fibers[t].state = RUNNABLE;
            continue;
        }
        emu_die("deadlock in block (%u,%u,%u) of %d threads: %d at __syncthreads, %d at a warp shuffle that cannot complete, "
                "%d exited", blockIdx.x, blockIdx.y, blockIdx.z, n, at_barrier, at_shuffle, done);
    }
}

// The launch in progress: its dynamic shared memory, the limit on static + dynamic shared memory per
// block (48 KiB, or the opt-in maximum once cudaFuncSetAttribute raised the kernel's), and the
// static __shared__ bytes the current block has reached so far.
static size_t launch_dynamic_smem = 0, launch_total_smem_limit = 48 * 1024, block_static_smem = 0;

void emu_launch(const void *kernel, dim3 grid, dim3 block, size_t smem, const std::function<void()> &body) {
    const unsigned long long n = (unsigned long long)block.x * block.y * block.z;
    if (n == 0 || n > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u ||
        grid.y > max_grid_y() || grid.z > 65535) {
        fprintf(stderr, "cuda emulator: invalid launch: grid (%u,%u,%u), block (%u,%u,%u)\n", grid.x, grid.y, grid.z, block.x,
                block.y, block.z);
        last_error = cudaErrorInvalidConfiguration;
        return;
    }
    auto it = max_dynamic_smem.find(kernel);
    const size_t smem_limit = it != max_dynamic_smem.end() ? (size_t)it->second : 48 * 1024;
    if (smem > smem_limit) {
        fprintf(stderr, "cuda emulator: launch with %zu bytes of dynamic shared memory, above the kernel's limit of %zu%s\n",
                smem, smem_limit, smem_limit == 48 * 1024 ? " (cudaFuncSetAttribute raises it)" : "");
        last_error = cudaErrorInvalidValue;
        return;
    }
    if (fibers.size() < n) {
        size_t old = fibers.size();
        fibers.resize(n);
        for (size_t t = old; t < n; t++) {
            // a PROT_NONE page below each stack: an overflow faults instead of corrupting the next one
            char *base = (char *)mmap(nullptr, FIBER_STACK + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (base == MAP_FAILED || mprotect(base, 4096, PROT_NONE) != 0) emu_die("cannot map a fiber stack");
            fibers[t].stack = base + 4096;
        }
    }
    gridDim = grid;
    blockDim = block;
    kernel_body = &body;
    launch_dynamic_smem = smem;
    launch_total_smem_limit = it != max_dynamic_smem.end() ? optin_smem_limit() : 48 * 1024;
    dynamic_smem.assign(smem + 16, 0xff);  // NaN floats: what a block did not write reads as garbage
    const unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
    for (unsigned long long i = 0; i < blocks; i++) {
        const unsigned long long b = reverse_order() ? blocks - 1 - i : i;
        blockIdx = uint3{(unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y), (unsigned)(b / grid.x / grid.y)};
        block_serial++;
        if (smem) memset(dynamic_smem.data(), 0xff, smem);
        block_static_smem = 0;
        run_block((int)n, block);
    }
    emu_current_thread = nullptr;
}

void emu_shared_poison(void *p, size_t bytes) {
    unsigned long long &last = shared_poisoned[p];
    if (last == block_serial) return;  // another thread of this block got here first
    last = block_serial;
    memset(p, 0xff, bytes);
    // On a GPU the launch itself fails; here the declarations are only seen as threads reach them.
    block_static_smem += bytes;
    if (block_static_smem + launch_dynamic_smem > launch_total_smem_limit)
        emu_die("a block uses %zu bytes of static and %zu of dynamic shared memory, above the limit of %zu per block%s "
                "(the launch fails on a GPU)", block_static_smem, launch_dynamic_smem, launch_total_smem_limit,
                launch_total_smem_limit == 48 * 1024 ? " without cudaFuncSetAttribute" : "");
}

void emu_check_launch_bounds(int max_threads) {
    const unsigned long long n = (unsigned long long)blockDim.x * blockDim.y * blockDim.z;
    if (n > (unsigned long long)max_threads)
        emu_die("a launch of %llu threads per block, above the kernel's __launch_bounds__(%d) (the launch fails on a GPU)",
                n, max_threads);
}

// ---------------------------------------------------------------------------------------------
// Runtime.
struct Allocation { size_t bytes; };
static std::map<uintptr_t, Allocation> allocations;  // device memory: start -> size
static size_t allocated_bytes = 0;
// The "device memory": 16 GiB or a quarter of this machine's RAM, whichever is less (programs size
// their buffers from cudaMemGetInfo, and every byte here is real and poisoned), or
// MEMLENS_EMU_MEMORY_MIB, so that tests of out-of-memory paths see the same GPU on every machine.
static size_t emu_total_memory() {
    static size_t total = 0;
    const char *mib = getenv("MEMLENS_EMU_MEMORY_MIB");
    if (!total && mib && atoll(mib) > 0) total = (size_t)atoll(mib) << 20;
    if (!total) {
        struct sysinfo si;
        const size_t ram = sysinfo(&si) == 0 ? (size_t)si.totalram * si.mem_unit : ((size_t)8 << 30);
        total = ram / 4 < ((size_t)16 << 30) ? ram / 4 : ((size_t)16 << 30);
    }
    return total;
}

const char *cudaGetErrorString(cudaError_t err) {
    switch (err) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorInvalidDevice: return "invalid device ordinal";
        case cudaErrorNotReady: return "device not ready";
    }
    return "unknown error";
}
cudaError_t cudaGetLastError() {
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError() { return last_error; }
cudaError_t cudaGetDeviceCount(int *count) {
    *count = emulated_devices();
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
    if (device < 0 || device >= emulated_devices()) return cudaErrorInvalidDevice;
    current_device = device;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *device) {
    *device = current_device;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device) {
    if (device < 0 || device >= emulated_devices()) return cudaErrorInvalidDevice;
    memset(prop, 0, sizeof *prop);
    snprintf(prop->name, sizeof prop->name, "memlens CPU emulator (not a GPU)");
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 4;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->totalGlobalMem = emu_total_memory();
    prop->sharedMemPerBlock = 48 * 1024;
    prop->sharedMemPerBlockOptin = optin_smem_limit();
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
    if (device < 0 || device >= emulated_devices()) return cudaErrorInvalidDevice;
    if (attr != cudaDevAttrMaxGridDimY) return cudaErrorInvalidValue;
    *value = (int)max_grid_y();
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

cudaError_t cudaMalloc(void **ptr, size_t bytes) {
    *ptr = nullptr;
    if (allocated_bytes + bytes > emu_total_memory()) return cudaErrorMemoryAllocation;
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);
    if (!p) return cudaErrorMemoryAllocation;
    memset(p, 0xff, bytes);
    allocations[(uintptr_t)p] = Allocation{bytes};
    allocated_bytes += bytes;
    *ptr = p;
    return cudaSuccess;
}
cudaError_t cudaFree(void *ptr) {
    if (!ptr) return cudaSuccess;
    auto it = allocations.find((uintptr_t)ptr);
    if (it == allocations.end()) return cudaErrorInvalidValue;
    allocated_bytes -= it->second.bytes;
    allocations.erase(it);
    free(ptr);
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    *free_bytes = emu_total_memory() - allocated_bytes;
    *total_bytes = emu_total_memory();
    return cudaSuccess;
}
// Whether [p, p + bytes) lies inside one device allocation.
static bool on_device(const void *p, size_t bytes) {
    auto it = allocations.upper_bound((uintptr_t)p);
    if (it == allocations.begin()) return false;
    --it;
    return (uintptr_t)p + bytes <= it->first + it->second.bytes;
}
bool emu_on_device(const void *p, size_t bytes) { return on_device(p, bytes); }
static cudaError_t copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    // cudaMemcpyDefault (unified addressing): each side is where its pointer is
    const bool dst_dev = kind == cudaMemcpyDefault ? on_device(dst, bytes) : kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDefault ? on_device(src, bytes) : kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (dst_dev != on_device(dst, bytes) || src_dev != on_device(src, bytes)) {
        fprintf(stderr, "cuda emulator: cudaMemcpy of %zu bytes (kind %d): a pointer is not where the kind says\n", bytes,
                (int)kind);
        return last_error = cudaErrorInvalidValue;  // sticky, as on a GPU
    }
    memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) { return copy(dst, src, bytes, kind); }
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return copy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void *ptr, int value, size_t bytes) {
    if (bytes && !on_device(ptr, bytes)) {
        fprintf(stderr, "cuda emulator: cudaMemset of %zu bytes outside every device allocation\n", bytes);
        return last_error = cudaErrorInvalidValue;
    }
    memset(ptr, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void *ptr, int value, size_t bytes, cudaStream_t) { return cudaMemset(ptr, value, bytes); }

struct EmuStream { int unused; };
struct EmuEvent { double seconds; };
cudaError_t cudaStreamCreate(cudaStream_t *stream) {
    *stream = new EmuStream();
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned) { return cudaStreamCreate(stream); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    delete stream;
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamQuery(cudaStream_t) { return cudaSuccess; }
#include <time.h>
static double now_seconds() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
cudaError_t cudaEventCreate(cudaEvent_t *event) {
    *event = new EmuEvent();
    return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
    delete event;
    return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
    event->seconds = now_seconds();
    return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end) {
    *ms = (float)(1e3 * (end->seconds - start->seconds));
    return cudaSuccess;
}

// ---------------------------------------------------------------------------------------------
// cuBLASLt.
struct EmuLtHandle { int unused; };
struct EmuLtDesc {
    cublasComputeType_t compute;
    cudaDataType_t scale_type;
    cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void *bias = nullptr;
};
struct EmuLtLayout {
    cudaDataType_t type;
    uint64_t rows, cols;
    int64_t ld;
};
struct EmuLtPreference { size_t workspace = 0; };

cublasStatus_t cublasLtCreate(cublasLtHandle_t *handle) {
    *handle = new EmuLtHandle();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *desc, cublasComputeType_t compute, cudaDataType_t scale_type) {
    if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_TF32 && compute != CUBLAS_COMPUTE_32F_FAST_16BF)
        return CUBLAS_STATUS_NOT_SUPPORTED;
    if (scale_type != CUDA_R_32F) return CUBLAS_STATUS_INVALID_VALUE;
    *desc = new EmuLtDesc();
    (*desc)->compute = compute;
    (*desc)->scale_type = scale_type;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
    delete desc;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const void *buf,
                                              size_t size) {
    switch (attr) {
        case CUBLASLT_MATMUL_DESC_TRANSA:
        case CUBLASLT_MATMUL_DESC_TRANSB: {
            if (size != sizeof(cublasOperation_t)) return CUBLAS_STATUS_INVALID_VALUE;
            cublasOperation_t op;
            memcpy(&op, buf, size);
            if (op != CUBLAS_OP_N && op != CUBLAS_OP_T) return CUBLAS_STATUS_INVALID_VALUE;
            (attr == CUBLASLT_MATMUL_DESC_TRANSA ? desc->trans_a : desc->trans_b) = op;
            return CUBLAS_STATUS_SUCCESS;
        }
        case CUBLASLT_MATMUL_DESC_EPILOGUE:
            if (size != sizeof(cublasLtEpilogue_t)) return CUBLAS_STATUS_INVALID_VALUE;
            memcpy(&desc->epilogue, buf, size);
            if (desc->epilogue != CUBLASLT_EPILOGUE_DEFAULT && desc->epilogue != CUBLASLT_EPILOGUE_BIAS)
                return CUBLAS_STATUS_NOT_SUPPORTED;
            return CUBLAS_STATUS_SUCCESS;
        case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
            if (size != sizeof(void *)) return CUBLAS_STATUS_INVALID_VALUE;
            memcpy(&desc->bias, buf, size);
            return CUBLAS_STATUS_SUCCESS;
        default: return CUBLAS_STATUS_NOT_SUPPORTED;
    }
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *layout, cudaDataType_t type, uint64_t rows, uint64_t cols,
                                          int64_t ld) {
    if (ld < (int64_t)rows || (type != CUDA_R_32F && type != CUDA_R_16BF)) return CUBLAS_STATUS_INVALID_VALUE;
    *layout = new EmuLtLayout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
    delete layout;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref) {
    *pref = new EmuLtPreference();
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref) {
    delete pref;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
                                                    cublasLtMatmulPreferenceAttributes_t attr, const void *buf, size_t size) {
    if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) {
        if (size != sizeof(size_t)) return CUBLAS_STATUS_INVALID_VALUE;
        memcpy(&pref->workspace, buf, size);
    } else if (size != sizeof(uint32_t)) return CUBLAS_STATUS_INVALID_VALUE;
    return CUBLAS_STATUS_SUCCESS;
}

// The product's shape from the layouts and operations: op(A) (m,k), op(B) (k,n), C and D (m,n).
static bool product_shape(const EmuLtDesc *desc, const EmuLtLayout *a, const EmuLtLayout *b, const EmuLtLayout *c,
                          const EmuLtLayout *d, uint64_t *m, uint64_t *n, uint64_t *k) {
    const uint64_t am = desc->trans_a == CUBLAS_OP_T ? a->cols : a->rows, ak = desc->trans_a == CUBLAS_OP_T ? a->rows : a->cols;
    const uint64_t bk = desc->trans_b == CUBLAS_OP_T ? b->cols : b->rows, bn = desc->trans_b == CUBLAS_OP_T ? b->rows : b->cols;
    if (ak != bk || a->type != b->type || c->rows != am || c->cols != bn || d->rows != am || d->cols != bn || c->type != d->type)
        return false;
    *m = am, *n = bn, *k = ak;
    return true;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t, int requested, cublasLtMatmulHeuristicResult_t *results,
                                              int *found) {
    uint64_t m, n, k;
    if (requested < 1 || !product_shape(desc, a, b, c, d, &m, &n, &k)) return CUBLAS_STATUS_INVALID_VALUE;
    memset(results, 0, sizeof *results);
    results->algo.data[0] = 0x656d75;  // the emulator has one algorithm
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

// Rounds x to `bits` mantissa bits, to nearest even (TF32: 10).
static float round_mantissa(float x, int bits) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, NaN
    const int drop = 23 - bits;
    const uint32_t half = 1u << (drop - 1), lsb = (u >> drop) & 1u;
    u = (u + half - 1 + lsb) & ~((1u << drop) - 1);
    memcpy(&x, &u, 4);
    return x;
}

static int tf32_bits() {
    static int bits = -1;
    if (bits < 0) {
        const char *s = getenv("MEMLENS_EMU_TF32_BITS");
        bits = s && *s ? atoi(s) : 10;
        if (bits < 1 || bits > 22) emu_die("MEMLENS_EMU_TF32_BITS=%s: give 1..22 mantissa bits (TF32 has 10)", s);
    }
    return bits;
}

// Element (r, c) of a column-major matrix of the layout's type, as float.
static inline float load(const void *base, cudaDataType_t type, int64_t ld, uint64_t r, uint64_t c) {
    const uint64_t i = c * (uint64_t)ld + r;
    if (type == CUDA_R_32F) return ((const float *)base)[i];
    return __bfloat162float(((const __nv_bfloat16 *)base)[i]);
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void *alpha_p, const void *a,
                              cublasLtMatrixLayout_t la, const void *b, cublasLtMatrixLayout_t lb, const void *beta_p,
                              const void *c, cublasLtMatrixLayout_t lc, void *d, cublasLtMatrixLayout_t ld,
                              const cublasLtMatmulAlgo_t *algo, void *, size_t, cudaStream_t) {
    uint64_t m, n, k;
    if (!handle || !algo || !product_shape(desc, la, lb, lc, ld, &m, &n, &k)) return CUBLAS_STATUS_INVALID_VALUE;
    const size_t a_bytes = (size_t)((la->cols - 1) * la->ld + la->rows) * (la->type == CUDA_R_32F ? 4 : 2);
    const size_t b_bytes = (size_t)((lb->cols - 1) * lb->ld + lb->rows) * (lb->type == CUDA_R_32F ? 4 : 2);
    const size_t d_bytes = (size_t)((ld->cols - 1) * ld->ld + ld->rows) * (ld->type == CUDA_R_32F ? 4 : 2);
    const size_t c_bytes = (size_t)((lc->cols - 1) * lc->ld + lc->rows) * (lc->type == CUDA_R_32F ? 4 : 2);
    if (!on_device(a, a_bytes) || !on_device(b, b_bytes) || !on_device(d, d_bytes) || !on_device(c, c_bytes)) {
        fprintf(stderr, "cuda emulator: cublasLtMatmul %llux%llux%llu: an operand is not (wholly) in device memory\n",
                (unsigned long long)m, (unsigned long long)n, (unsigned long long)k);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    const bool bias = desc->epilogue == CUBLASLT_EPILOGUE_BIAS;
    if (bias && (!desc->bias || !on_device(desc->bias, m * (ld->type == CUDA_R_32F ? 4 : 2)))) return CUBLAS_STATUS_INVALID_VALUE;
    const float alpha = *(const float *)alpha_p, beta = *(const float *)beta_p;
    const int round_bits = desc->compute == CUBLAS_COMPUTE_32F_FAST_TF32 && la->type == CUDA_R_32F ? tf32_bits()
                           : desc->compute == CUBLAS_COMPUTE_32F_FAST_16BF && la->type == CUDA_R_32F ? 7 : 23;
    // op(A) as (m, k) rows and op(B)^T as (n, k) rows, so that each dot product reads contiguous memory.
    std::vector<float> A(m * k), Bt(n * k);
    for (uint64_t i = 0; i < m; i++)
        for (uint64_t p = 0; p < k; p++) {
            float x = desc->trans_a == CUBLAS_OP_T ? load(a, la->type, la->ld, p, i) : load(a, la->type, la->ld, i, p);
            A[i * k + p] = round_bits < 23 ? round_mantissa(x, round_bits) : x;
        }
    for (uint64_t j = 0; j < n; j++)
        for (uint64_t p = 0; p < k; p++) {
            float x = desc->trans_b == CUBLAS_OP_T ? load(b, lb->type, lb->ld, j, p) : load(b, lb->type, lb->ld, p, j);
            Bt[j * k + p] = round_bits < 23 ? round_mantissa(x, round_bits) : x;
        }
    // C may be D (beta accumulates into it): read every C element before its D element is written.
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < (int64_t)n; j++)
        for (uint64_t i = 0; i < m; i++) {
            const float *x = &A[i * k], *y = &Bt[j * k];
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            uint64_t p = 0;
            for (; p + 8 <= k; p += 8)
                for (int q = 0; q < 8; q++) acc[q] += x[p + q] * y[p + q];
            float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            for (; p < k; p++) sum += x[p] * y[p];
            float out = alpha * sum;
            if (beta != 0.0f) out += beta * load(c, lc->type, lc->ld, i, j);
            if (bias) out += ld->type == CUDA_R_32F ? ((const float *)desc->bias)[i]
                                                    : __bfloat162float(((const __nv_bfloat16 *)desc->bias)[i]);
            const uint64_t di = j * (uint64_t)ld->ld + i;
            if (ld->type == CUDA_R_32F) ((float *)d)[di] = out;
            else ((__nv_bfloat16 *)d)[di] = __float2bfloat16_rn(out);
        }
    return CUBLAS_STATUS_SUCCESS;
}
