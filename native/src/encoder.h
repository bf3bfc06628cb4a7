// Encoder (BERT / RoBERTa) kernels: see encoder.c. Arguments are validated in encoder_addon.c.
#ifndef COMPSAFE_ENCODER_H
#define COMPSAFE_ENCODER_H
#include <stddef.h>
#include <stdint.h>

// Bidirectional attention over packed sequences. Sequence s holds rows seqStarts[s] .. seqStarts[s+1]-1.
// q, k, v (rows, >= nHeads*headDim) with row stride `stride` (a fused QKV buffer: stride 3*hidden);
// out (rows, nHeads*headDim). Each query attends to every key of its own sequence, none of the others.
// Returns 0, or -1 when scratch memory could not be allocated (out untouched).
int cs_encoder_attention(float *out, const float *q, const float *k, const float *v, const int32_t *seqStarts, int nSeqs,
                         int nHeads, int headDim, int stride, float scale);
void cs_tanh_inplace(float *x, size_t n);
#endif
