// Kernels of quantized linear modes (LLM.int8() vector-wise int8 with fp outliers) and their N-API entry points.
#include "napi_args.h"
#include "kernels.h"

void register_quant_kernels(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
