// Speed and memory benchmarks. One JSON object per result on stdout:
//   { name, figures..., units, machine }
// Usage: npm run bench [-- --only sgemm|prefill|decode|memory] [--layers N] [--tokens T]
import { parseArgs } from 'node:util';
import { native } from '../src/core/native.js';
import { emit, selector, timeBest, filled } from './util.js';
import { LlamaModel } from '../src/model/architectures/llama.js';
import { DecoderConfig } from '../src/model/config.js';

const { values } = parseArgs({
  options: { only: { type: 'string' }, layers: { type: 'string' }, tokens: { type: 'string' }, 'decode-tokens': { type: 'string' } },
});
const want = selector(values.only);

if (want('sgemm')) {
  for (const [M, N, K] of [[1024, 1024, 1024], [512, 2048, 2048], [512, 5632, 2048], [512, 2048, 5632]]) {
    const A = filled(M * K, 1, 1), B = filled(N * K, 2, 1), C = new Float32Array(M * N);
    for (const fb of native.info().blas === 'fallback' ? [1] as const : [0, 1] as const) {
      const s = timeBest(fb ? 1 : 5, () => native.sgemm(0, 1, M, N, K, 1, A, K, B, K, 0, C, N, fb));
      emit({ name: 'sgemm', impl: fb ? 'fallback' : native.info().blas, M, N, K, layout: 'A @ B^T', seconds: s, gflops: (2 * M * N * K) / s / 1e9, units: { gflops: 'GFLOP/s', seconds: 's' } });
    }
  }
}

// TinyLlama-1.1B shape with random weights.
const layers = Number(values.layers ?? 22);
const config: DecoderConfig = {
  modelType: 'llama', hiddenSize: 2048, intermediateSize: 5632, numLayers: layers, numHeads: 32, numKvHeads: 4, headDim: 64,
  vocabSize: 32000, maxPositions: 2048, rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, tieWordEmbeddings: false,
  qkvBias: false, oBias: false, mlpBias: false, hiddenAct: 'silu', slidingWindow: 0, bosTokenId: 1, eosTokenIds: [2],
};

if (want('prefill') || want('decode') || want('memory')) {
  const rssBefore = process.memoryUsage().rss;
  const block = filled(1 << 22, 7, 0.04);
  let weightBytes = 0, seed = 0;
  const model = new LlamaModel(config, (name, shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = new Float32Array(n);
    const isNorm = name.endsWith('norm.weight');
    if (isNorm) t.fill(1);
    else {
      const chunk = block.length - 4096;
      for (let off = 0; off < n; off += chunk) {
        const start = (seed++ * 9973) % 4096;
        t.set(block.subarray(start, start + Math.min(chunk, n - off)), off);
      }
    }
    weightBytes += n * 4;
    return t;
  });
  const rssLoaded = process.memoryUsage().rss;
  const params = weightBytes / 4;
  const H = config.hiddenSize, I = config.intermediateSize, kv = config.numKvHeads * config.headDim;
  const linearParams = layers * (H * H * 2 + H * kv * 2 + 3 * H * I);
  if (want('memory')) {
    emit({ name: 'memory', shape: 'tinyllama', layers, weightGiB: weightBytes / 2 ** 30, rssGiB: rssLoaded / 2 ** 30,
      rssIncreaseGiB: (rssLoaded - rssBefore) / 2 ** 30, ratio: (rssLoaded - rssBefore) / weightBytes, units: { ratio: 'rss increase / fp32 weight bytes' } });
  }
  if (want('prefill')) {
    const T = Number(values.tokens ?? 512);
    const ids = Array.from({ length: T }, (_, i) => (i * 7919) % config.vocabSize);
    const s = timeBest(2, () => model.forward([{ ids }], { logits: 'all' }));
    // FLOPs: 2 per multiply-add in linears and LM head, plus causal attention (QK^T and PV, half the square).
    const attn = layers * 2 * 2 * config.numHeads * config.headDim * (T * (T + 1)) / 2;
    const flops = 2 * T * (linearParams + config.vocabSize * H) + attn;
    emit({ name: 'prefill', shape: 'tinyllama', layers, tokens: T, params, seconds: s, tokensPerSecond: T / s, effectiveGflops: flops / s / 1e9,
      units: { tokensPerSecond: 'tokens/s', effectiveGflops: 'GFLOP/s (linears + LM head + causal attention)' } });
  }
  if (want('decode')) {
    const steps = Number(values['decode-tokens'] ?? 16);
    const cache = model.newCache();
    model.forward([{ ids: Array.from({ length: 64 }, (_, i) => i + 3), cache }], { logits: 'last' });
    const t = process.hrtime.bigint();
    for (let i = 0; i < steps; i++) model.forward([{ ids: [i + 100], cache }], { logits: 'last' });
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    // Streaming read bandwidth: best of a few dot products over two 512 MiB arrays (read-only, threaded),
    // the access pattern of decoding, where every weight is read once per token.
    const a = new Float32Array(1 << 27).fill(1), b = new Float32Array(1 << 27).fill(2);
    const read = timeBest(3, () => native.dot(a, b, a.length));
    const bandwidth = (a.byteLength + b.byteLength) / read;
    const bytesPerToken = (linearParams + config.vocabSize * H) * 4;  // every weight streamed once (embedding row aside)
    const boundTps = bandwidth / bytesPerToken;
    emit({ name: 'decode', shape: 'tinyllama', layers, steps, secondsPerToken: s / steps, tokensPerSecond: steps / s,
      memoryBandwidthGBs: bandwidth / 1e9, bandwidthBoundTokensPerSecond: boundTps, fractionOfBound: steps / s / boundTps,
      units: { tokensPerSecond: 'tokens/s', memoryBandwidthGBs: 'GB/s (streaming read)' } });
  }
}
