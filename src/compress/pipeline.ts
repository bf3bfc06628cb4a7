// The sequential, layer-by-layer compression pipeline shared by every method (as SparseGPT, GPTQ and
// Wanda do it): embed the calibration batch once; for each decoder layer l, run l on a copy of the
// hidden state with a hook that feeds each linear site's stats, compress every site of l, then run the
// compressed l in place so its outputs become layer l+1's inputs. Memory: the calibration hidden state
// (rows x hidden) plus one chunk of sequences' scratch and one layer's stats.
import { native } from '../core/native.js';
import { CompsafeError, UsageError } from '../core/errors.js';
import { LayerwiseLM, PackedBatch } from '../model/causal-lm.js';
import { LinearHook, LinearSite } from '../model/linear.js';
import { CompressionMethod, CompressionParams, LayerStats } from './types.js';
import { checkNMDivisible, formatPattern, nmSparsity } from './nm.js';

/** What compressing one linear layer achieved. */
export interface SiteReport {
  layer: number;
  /** Module path inside the layer, e.g. "self_attn.q_proj". */
  name: string;
  /** Hugging Face name of the weight, e.g. "model.layers.0.self_attn.q_proj.weight". */
  tensor: string;
  inFeatures: number;
  outFeatures: number;
  sparsity: number;
  bits?: number;
  details?: Record<string, number | string | boolean>;
}

export interface LayerReport {
  layer: number;
  weights: number;
  sparsity: number;
  bits?: number;
}

/** Wall-clock figures; kept apart from the report so that a recipe never depends on them. */
export interface CompressionTiming {
  totalSeconds: number;
  /** Embedding the calibration batch. */
  embedSeconds: number;
  layers: { layer: number; seconds: number; statsSeconds: number; solveSeconds: number; propagateSeconds: number }[];
  sites: { tensor: string; solveSeconds: number }[];
}

export interface CompressionReport {
  method: string;
  kind: CompressionMethod['kind'];
  params: CompressionParams;
  sites: SiteReport[];
  layers: LayerReport[];
  overall: { weights: number; sparsity: number; bits?: number };
  /** Calibration sequences and tokens that flowed through the model (null: no calibration). */
  calibration: { sequences: number; tokens: number } | null;
  timing: CompressionTiming;
}

export interface CompressionProgress {
  /** Linear sites compressed so far, of `total`. */
  done: number;
  total: number;
  layer: number;
  site: string;
}

export interface PipelineOptions {
  onProgress?: (p: CompressionProgress) => void;
  /** Packed rows per layerForward call (whole sequences; default: about 4M activation values). */
  chunkRows?: number;
}

/**
 * Checks every parameter before any work: the ones all methods share, then the method's own. Throws
 * UsageError naming the flag.
 */
export function validateCompression(method: CompressionMethod, params: CompressionParams, inFeatures: number[]): void {
  if (method.needsGradients) {
    throw new UsageError(`--method ${method.id} needs gradients of the calibration loss, which need the engine's backward pass (not available yet)`);
  }
  if (params.sparsity !== undefined && !(params.sparsity >= 0 && params.sparsity < 1)) {
    throw new UsageError(`--sparsity must be in [0, 1), got ${params.sparsity}`);
  }
  if (params.pattern !== 'unstructured') {
    const p = params.pattern;
    if (!(Number.isInteger(p.n) && Number.isInteger(p.m) && p.n >= 1 && p.n < p.m)) throw new UsageError(`--pattern ${formatPattern(p)}: N:M needs 1 <= N < M`);
    if (params.sparsity !== undefined && Math.abs(params.sparsity - nmSparsity(p)) > 1e-9) {
      throw new UsageError(`--sparsity ${params.sparsity} contradicts --pattern ${formatPattern(p)}, which prunes ${nmSparsity(p)}`);
    }
    checkNMDivisible(p, inFeatures);
  }
  if (params.bits !== undefined && !(Number.isInteger(params.bits) && params.bits >= 2 && params.bits <= 8)) {
    throw new UsageError(`--bits must be an integer in [2, 8], got ${params.bits}`);
  }
  if (!(Number.isInteger(params.groupSize) && params.groupSize >= 0)) throw new UsageError(`--group-size must be a non-negative integer, got ${params.groupSize}`);
  if (params.bits !== undefined && params.groupSize > 0) {
    const bad = [...new Set(inFeatures)].filter((k) => k % params.groupSize !== 0);
    if (bad.length) throw new UsageError(`--group-size ${params.groupSize} does not divide in-features ${bad.join(', ')}; choose a group size that divides every layer's input width`);
  }
  if (!(Number.isFinite(params.percdamp) && params.percdamp >= 0)) throw new UsageError(`--percdamp must be a non-negative number, got ${params.percdamp}`);
  if (!(Number.isInteger(params.blockSize) && params.blockSize >= 1)) throw new UsageError(`--block-size must be a positive integer, got ${params.blockSize}`);
  if (!(Number.isFinite(params.threshold) && params.threshold >= 0)) throw new UsageError(`--threshold must be a non-negative number, got ${params.threshold}`);
  method.validate(params, inFeatures);
}

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

function checkFinite(what: string, x: Float32Array): void {
  if (!Number.isFinite(native.dot(x, x, x.length))) throw new CompsafeError(`${what} holds NaN or infinite values after compression`);
}

/** Splits sequences into chunks of whole sequences of at most `budget` rows (a longer sequence is a chunk alone). */
function chunkSequences(calibration: number[][], budget: number): number[][][] {
  const chunks: number[][][] = [];
  let cur: number[][] = [], rows = 0;
  for (const s of calibration) {
    if (cur.length && rows + s.length > budget) { chunks.push(cur); cur = []; rows = 0; }
    cur.push(s);
    rows += s.length;
  }
  if (cur.length) chunks.push(cur);
  return chunks;
}

/**
 * Compresses `model` in place with `method`. `calibration` holds token-id sequences (each run from
 * position 0); methods with needsCalibration=false get null and see no activations.
 */
export function compressModel(model: LayerwiseLM, method: CompressionMethod, params: CompressionParams,
  calibration: number[][] | null, opts: PipelineOptions = {}): CompressionReport {
  const t0 = process.hrtime.bigint();
  const allSites = model.linearSites();
  validateCompression(method, params, allSites.map((s) => s.linear.inFeatures));
  if (method.needsCalibration && (!calibration || calibration.length === 0 || calibration.every((s) => s.length === 0))) {
    throw new UsageError(`--method ${method.id} needs calibration data (--calib, --nsamples)`);
  }
  const numLayers = model.info.numLayers, hidden = model.info.hiddenSize;
  const sites: SiteReport[] = [];
  const timing: CompressionTiming = { totalSeconds: 0, embedSeconds: 0, layers: [], sites: [] };
  let done = 0;
  const total = allSites.length;

  const compressSite = (site: LinearSite, stats: LayerStats | undefined): void => {
    const ts = process.hrtime.bigint();
    const result = method.compressLayer(site, stats, params);
    if (result.replacement) model.setLinear(site.layer, site.name, result.replacement);
    const linear = result.replacement ?? site.linear;
    const tensor = `model.layers.${site.layer}.${site.name}.weight`;
    checkFinite(tensor, linear.weight);
    sites.push({
      layer: site.layer, name: site.name, tensor, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures, sparsity: result.sparsity,
      ...(result.bits !== undefined ? { bits: result.bits } : {}), ...(result.details ? { details: result.details } : {}),
    });
    timing.sites.push({ tensor, solveSeconds: seconds(ts) });
    opts.onProgress?.({ done: ++done, total, layer: site.layer, site: site.name });
  };

  let calibrationInfo: CompressionReport['calibration'] = null;
  if (!method.needsCalibration) {
    for (let l = 0; l < numLayers; l++) {
      const tl = process.hrtime.bigint();
      for (const site of allSites.filter((s) => s.layer === l)) compressSite(site, undefined);
      const s = seconds(tl);
      timing.layers.push({ layer: l, seconds: s, statsSeconds: 0, solveSeconds: s, propagateSeconds: 0 });
    }
  } else {
    const seqs = calibration!.filter((s) => s.length > 0);
    const budget = opts.chunkRows ?? Math.max(1, Math.floor((1 << 22) / hidden));
    const batches: PackedBatch[] = chunkSequences(seqs, budget).map((c) => model.pack(c.map((ids) => ({ ids }))));
    const totalRows = batches.reduce((s, b) => s + b.rows, 0);
    calibrationInfo = { sequences: seqs.length, tokens: totalRows };
    const te = process.hrtime.bigint();
    const h = new Float32Array(totalRows * hidden);
    const offsets: number[] = [];
    let off = 0;
    for (const b of batches) {
      offsets.push(off);
      h.set(model.embedBatch(b), off * hidden);
      off += b.rows;
    }
    timing.embedSeconds = seconds(te);
    const copy = new Float32Array(Math.max(...batches.map((b) => b.rows)) * hidden);

    for (let l = 0; l < numLayers; l++) {
      const tl = process.hrtime.bigint();
      const layerSites = model.linearSites().filter((s) => s.layer === l);
      const stats = new Map<string, LayerStats>();
      // Sites that share an activation (consecutive hook calls with the same buffer: q/k/v, gate/up in
      // the Llama block) share one stats object when the method's stats depend on the input only.
      const owner = new Map<string, string>();
      let firstChunk = true;
      let prev: { input: Float32Array; rows: number; name: string } | null = null;
      const hook: LinearHook = (site, input, rows) => {
        const same = method.statsPerInput === true && prev !== null && prev.input === input && prev.rows === rows;
        if (firstChunk) {
          if (same) {
            const o = owner.get(prev!.name) ?? prev!.name;
            owner.set(site.name, o);
            stats.set(site.name, stats.get(o)!);
          } else if (!stats.has(site.name)) {
            if (!method.newStats) throw new CompsafeError(`method ${method.id} needs calibration but creates no statistics`);
            stats.set(site.name, method.newStats(site, params));
          }
        }
        const o = owner.get(site.name);
        if (o !== undefined) {
          if (!same) throw new CompsafeError(`layer ${l}: ${site.name} shared the input of ${o} in the first chunk but not in a later one`);
        } else {
          const s = stats.get(site.name);
          if (!s) throw new CompsafeError(`layer ${l}: ${site.name} received calibration inputs only after the first chunk`);
          s.addBatch(input, rows);
        }
        prev = { input, rows, name: site.name };
      };
      batches.forEach((b, i) => {
        const view = copy.subarray(0, b.rows * hidden);
        view.set(h.subarray(offsets[i] * hidden, (offsets[i] + b.rows) * hidden));
        prev = null;
        model.layerForward(l, view, b, hook);
        firstChunk = false;
      });
      const statsSeconds = seconds(tl);
      const tsolve = process.hrtime.bigint();
      for (const site of layerSites) compressSite(site, stats.get(site.name));
      const solveSeconds = seconds(tsolve);
      stats.clear();
      const tp = process.hrtime.bigint();
      batches.forEach((b, i) => model.layerForward(l, h.subarray(offsets[i] * hidden, (offsets[i] + b.rows) * hidden), b));
      checkFinite(`the calibration hidden state after layer ${l}`, h);
      timing.layers.push({ layer: l, seconds: seconds(tl), statsSeconds, solveSeconds, propagateSeconds: seconds(tp) });
    }
  }

  const layers: LayerReport[] = [];
  let allWeights = 0, allZeros = 0, bitWeights = 0, bitSum = 0;
  for (let l = 0; l < numLayers; l++) {
    let weights = 0, zeros = 0, bw = 0, bs = 0;
    for (const s of sites.filter((x) => x.layer === l)) {
      const n = s.inFeatures * s.outFeatures;
      weights += n;
      zeros += Math.round(s.sparsity * n);
      if (s.bits !== undefined) { bw += n; bs += s.bits * n; }
    }
    layers.push({ layer: l, weights, sparsity: weights ? zeros / weights : 0, ...(bw === weights && bw > 0 ? { bits: bs / bw } : {}) });
    allWeights += weights; allZeros += zeros; bitWeights += bw; bitSum += bs;
  }
  timing.totalSeconds = seconds(t0);
  return {
    method: method.id, kind: method.kind, params, sites, layers,
    overall: { weights: allWeights, sparsity: allWeights ? allZeros / allWeights : 0, ...(bitWeights === allWeights && bitWeights > 0 ? { bits: bitSum / bitWeights } : {}) },
    calibration: calibrationInfo,
    timing,
  };
}
