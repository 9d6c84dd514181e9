// The CPU emulator stands in for the CUDA header of this name (dev/cuda/emu/cuda_emu.h).
#include "../cuda_emu.h"
