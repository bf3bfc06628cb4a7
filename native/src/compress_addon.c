// Kernels of the compression solvers (Hessian accumulation, OBS/GPTQ block updates) and their N-API entry points.
#include "napi_args.h"
#include "kernels.h"

void register_compress_kernels(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
