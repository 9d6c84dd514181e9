// The CPU emulator stands in for NCCL (dev/cuda/emu/nccl_emu.cpp): the part of its API that
// llmc/dist_nccl.cuh uses, with ncclReduceScatter and ncclAllGather, for ranks that are processes
// on one machine. Collectives go through a shared file and complete before the call returns (the
// emulator's streams are synchronous).
#ifndef MEMLENS_NCCL_EMU_H
#define MEMLENS_NCCL_EMU_H

#include <stddef.h>

#include "../cuda_emu.h"

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;

typedef enum {
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,
    ncclInProgress = 7,
} ncclResult_t;

typedef enum { ncclInt8 = 0, ncclUint8 = 1, ncclInt32 = 2, ncclUint32 = 3, ncclFloat32 = 7, ncclFloat64 = 8 } ncclDataType_t;
#define ncclChar ncclInt8
#define ncclInt ncclInt32
#define ncclFloat ncclFloat32
#define ncclDouble ncclFloat64
typedef enum { ncclSum = 0 } ncclRedOp_t;

typedef struct {
    int blocking;  // 0: calls may return ncclInProgress; ncclCommGetAsyncError says when they are done
} ncclConfig_t;
#define NCCL_CONFIG_INITIALIZER {1}

typedef struct EmuNcclComm *ncclComm_t;

ncclResult_t ncclGetVersion(int *version);
ncclResult_t ncclGetUniqueId(ncclUniqueId *id);
ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank, ncclConfig_t *config);
ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *async_error);
ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, ncclRedOp_t op,
                           ncclComm_t comm, cudaStream_t stream);
ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype, int root,
                           ncclComm_t comm, cudaStream_t stream);
// sendbuff: nranks * recvcount elements; rank r gets the sum of block r. In place only as
// recvbuff == sendbuff + rank * recvcount.
ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, ncclDataType_t datatype,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
// recvbuff: nranks * sendcount elements, block r = rank r's sendbuff. In place only as
// sendbuff == recvbuff + rank * sendcount.
ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype, ncclComm_t comm,
                           cudaStream_t stream);
ncclResult_t ncclCommFinalize(ncclComm_t comm);
ncclResult_t ncclCommDestroy(ncclComm_t comm);
ncclResult_t ncclCommAbort(ncclComm_t comm);
const char *ncclGetErrorString(ncclResult_t result);
const char *ncclGetLastError(ncclComm_t comm);

#endif
