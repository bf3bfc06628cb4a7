// Compression speed. One JSON object per result on stdout (as bench/run.ts):
//   solve - per-layer solve time of SparseGPT (and GPTQ, when registered) for TinyLlama shapes
//           (in x out = 2048x2048, 2048x5632, 5632x2048) against the sgemm time of the same shapes: the layer's
//           forward over the calibration tokens (128 x 2048 by default) and over one 2048-token sequence.
//           The Hessian is accumulated from --hessian-chunks distinct chunks of 2048 random rows (the solve does
//           not depend on the row count); accumulation and forward times are measured per chunk and scaled to
//           the calibration size (both are linear in the rows).
//   model - whole-model Wanda and SparseGPT time on a TinyLlama-shaped random model (--layers, default 22)
//           with 16 x 512 calibration tokens, with the pipeline's breakdown (stats, solve, propagate).
// Usage: npm run bench:compress [-- --only solve,model] [--layers N] [--shapes 2048x2048,5632x2048]
//        [--calib-tokens T] [--hessian-chunks C] [--samples S] [--seqlen L]
import { parseArgs } from 'node:util';
import { native } from '../src/core/native.js';
import { emit, selector, filled } from './util.js';
import { LlamaModel } from '../src/model/architectures/llama.js';
import { DecoderConfig } from '../src/model/config.js';
import { DenseLinear, LinearSite } from '../src/model/linear.js';
import { METHODS } from '../src/compress/registry.js';
import { compressModel } from '../src/compress/pipeline.js';
import { CompressionParams } from '../src/compress/types.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' }, layers: { type: 'string' }, shapes: { type: 'string' }, 'calib-tokens': { type: 'string' },
    'hessian-chunks': { type: 'string' }, samples: { type: 'string' }, seqlen: { type: 'string' },
  },
});
const want = selector(values.only);
const now = (): bigint => process.hrtime.bigint();
const since = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e9;

function params(method: string, o: Partial<CompressionParams> = {}): CompressionParams {
  return {
    method, pattern: 'unstructured', groupSize: 0, symmetric: false, actOrder: false, staticGroups: false, percdamp: 0.01,
    blockSize: 128, threshold: 6, awqClip: true, awqGrid: 20, seed: 0, ...o,
  };
}

if (want('solve')) {
  const CHUNK = 2048;
  const calibTokens = Number(values['calib-tokens'] ?? 128 * 2048), chunks = Number(values['hessian-chunks'] ?? 4);
  const shapes = (values.shapes ?? '2048x2048,2048x5632,5632x2048').split(',').map((s) => s.split('x').map(Number) as [number, number]);
  const solvers: [string, Partial<CompressionParams>][] = [['sparsegpt', { sparsity: 0.5 }], ['sparsegpt', { pattern: { n: 2, m: 4 }, sparsity: 0.5 }],
    ['sparsegpt', { sparsity: 0.5, bits: 4, groupSize: 128 }]];
  if (METHODS.gptq) solvers.push(['gptq', { bits: 4, groupSize: 128 }], ['gptq', { bits: 4, groupSize: 128, actOrder: true }]);
  for (const [inp, out] of shapes) {
    const X = Array.from({ length: chunks }, (_, c) => filled(CHUNK * inp, 100 + c, 2));
    const W0 = filled(out * inp, 7, 0.04);
    // Layer forward: the sgemm the layer itself costs on the calibration tokens.
    const Y = new Float32Array(CHUNK * out);
    native.sgemm(0, 1, CHUNK, out, inp, 1, X[0], inp, W0, inp, 0, Y, out);
    let t = now();
    for (const x of X) native.sgemm(0, 1, CHUNK, out, inp, 1, x, inp, W0, inp, 0, Y, out);
    const gemmPerChunk = since(t) / chunks;
    for (const [id, o] of solvers) {
      const method = METHODS[id];
      const site: LinearSite = { layer: 0, name: 'bench', linear: new DenseLinear(W0.slice(), null, out, inp) };
      const p = params(id, o);
      const stats = method.newStats!(site, p);
      t = now();
      for (const x of X) stats.addBatch(x, CHUNK);
      const hessianPerChunk = since(t) / chunks;
      t = now();
      method.compressLayer(site, stats, p);
      const solve = since(t);
      const scaled = calibTokens / CHUNK;
      emit({
        name: 'solve', method: id, pattern: typeof p.pattern === 'string' ? p.pattern : `${p.pattern.n}:${p.pattern.m}`, bits: p.bits ?? null,
        groupSize: p.groupSize, actOrder: p.actOrder, inFeatures: inp, outFeatures: out, calibTokens, hessianRowsUsed: chunks * CHUNK,
        solveSeconds: solve, hessianSeconds: hessianPerChunk * scaled, gemmSeconds: gemmPerChunk * scaled, gemmSecondsPerSequence: gemmPerChunk,
        solveOverGemm: solve / (gemmPerChunk * scaled), solveInSequenceGemms: solve / gemmPerChunk,
        units: { seconds: 's', gemmSeconds: `x W^T over ${calibTokens} tokens (measured on ${chunks} x ${CHUNK}, scaled)`, gemmSecondsPerSequence: `x W^T over ${CHUNK} tokens` },
      });
    }
  }
}

if (want('model')) {
  const layers = Number(values.layers ?? 22), samples = Number(values.samples ?? 16), seqlen = Number(values.seqlen ?? 512);
  const config: DecoderConfig = {
    modelType: 'llama', hiddenSize: 2048, intermediateSize: 5632, numLayers: layers, numHeads: 32, numKvHeads: 4, headDim: 64,
    vocabSize: 32000, maxPositions: 2048, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: false,
    qkvBias: false, oBias: false, mlpBias: false, hiddenAct: 'silu', slidingWindow: 0, bosTokenId: 1, eosTokenIds: [2],
  };
  const block = filled(1 << 22, 7, 0.04);
  const build = (): LlamaModel => {
    let seed = 0;
    return new LlamaModel(config, (name, shape) => {
      const n = shape.reduce((a, b) => a * b, 1), t = new Float32Array(n);
      if (name.endsWith('norm.weight')) t.fill(1);
      else {
        const chunk = block.length - 4096;
        for (let off = 0; off < n; off += chunk) {
          const start = (seed++ * 9973) % 4096;
          t.set(block.subarray(start, start + Math.min(chunk, n - off)), off);
        }
      }
      return t;
    });
  };
  const calibration = Array.from({ length: samples }, (_, s) => Array.from({ length: seqlen }, (_, i) => (s * 7919 + i * 104729) % config.vocabSize));
  for (const [id, o] of [['wanda', { sparsity: 0.5 }], ['sparsegpt', { sparsity: 0.5 }]] as [string, Partial<CompressionParams>][]) {
    const model = build();
    const r = compressModel(model, METHODS[id], params(id, o), calibration);
    const sum = (k: 'statsSeconds' | 'solveSeconds' | 'propagateSeconds'): number => r.timing.layers.reduce((s, l) => s + l[k], 0);
    emit({
      name: 'model', method: id, shape: 'tinyllama', layers, calibTokens: samples * seqlen, seconds: r.timing.totalSeconds,
      secondsPerLayer: r.timing.totalSeconds / layers, embedSeconds: r.timing.embedSeconds, statsSeconds: sum('statsSeconds'),
      solveSeconds: sum('solveSeconds'), propagateSeconds: sum('propagateSeconds'), sparsity: r.overall.sparsity,
      extrapolated22LayerSeconds: (r.timing.totalSeconds - r.timing.embedSeconds) / layers * 22 + r.timing.embedSeconds,
      units: { seconds: 's' },
    });
  }
}
