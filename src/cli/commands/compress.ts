import { UsageError } from '../../core/errors.js';
import { loadModel } from '../../model/load.js';
import { isLayerwise } from '../../model/causal-lm.js';
import { METHODS, methodFor } from '../../compress/registry.js';
import { CompressionParams } from '../../compress/types.js';
import { parsePattern, nmSparsity } from '../../compress/nm.js';
import { compressModel, validateCompression } from '../../compress/pipeline.js';
import { CALIBRATION_DEFAULTS, calibrationSeqlen, resolveCalibrationSource, sampleCalibration } from '../../compress/calibration.js';
import { checkOutputDir, exportCompressedModel } from '../../compress/export.js';
import { COMMON_OPTIONS, Flags, float, int, parseFlags, required, str } from '../args.js';
import { Progress } from '../progress.js';
import { hubOptions, HUB_OPTIONS } from './shared.js';

export const usage =
  `compsafe compress --model M --method ${Object.keys(METHODS).join('|')} [--sparsity R] [--pattern unstructured|2:4|4:8|N:M] ` +
  '[--bits B] [--group-size G] [--sym|--asym] [--act-order] [--static-groups] [--percdamp P] [--block-size B] [--threshold T] ' +
  '[--calib c4|wikitext2|FILE] [--nsamples N] [--seqlen L] [--seed S] [--data-dir D] [--json] --out DIR';

/** Parameters every method starts from; a method's own defaults, then explicit flags, override them. */
const BASE_PARAMS: Omit<CompressionParams, 'method'> = {
  pattern: 'unstructured', groupSize: 0, symmetric: false, actOrder: false, staticGroups: false, percdamp: 0.01,
  blockSize: 128, threshold: 6.0, awqClip: true, awqGrid: 20, seed: CALIBRATION_DEFAULTS.seed,
};

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  const f = parseFlags(argv, {
    ...COMMON_OPTIONS, ...HUB_OPTIONS, model: { type: 'string' }, method: { type: 'string' }, out: { type: 'string' },
    sparsity: { type: 'string' }, pattern: { type: 'string' }, bits: { type: 'string' }, 'group-size': { type: 'string' },
    sym: { type: 'boolean' }, asym: { type: 'boolean' }, 'act-order': { type: 'boolean' }, 'static-groups': { type: 'boolean' },
    percdamp: { type: 'string' }, 'block-size': { type: 'string' }, threshold: { type: 'string' },
    calib: { type: 'string' }, nsamples: { type: 'string' }, seqlen: { type: 'string' }, seed: { type: 'string' }, 'data-dir': { type: 'string' },
  }, 'compress');
  setup(f);
  const modelSpec = required(f, 'model', 'compress');
  const method = methodFor(required(f, 'method', 'compress'));
  const outDir = required(f, 'out', 'compress');
  checkOutputDir(outDir);

  // Explicit flags > the method's defaults > BASE_PARAMS.
  const explicit: Partial<CompressionParams> = {};
  const pattern = str(f, 'pattern');
  if (pattern !== undefined) explicit.pattern = parsePattern(pattern);
  const sparsity = float(f, 'sparsity', undefined, -Infinity, Infinity);
  if (sparsity !== undefined) {
    if (!(sparsity >= 0 && sparsity < 1)) throw new UsageError(`--sparsity must be in [0, 1), got "${str(f, 'sparsity')}"`);
    explicit.sparsity = sparsity;
  }
  const bits = int(f, 'bits', undefined, 2, 8);
  if (bits !== undefined) explicit.bits = bits;
  const groupSize = int(f, 'group-size', undefined, 0);
  if (groupSize !== undefined) explicit.groupSize = groupSize;
  if (f.sym && f.asym) throw new UsageError('give at most one of --sym and --asym');
  if (f.sym) explicit.symmetric = true;
  if (f.asym) explicit.symmetric = false;
  if (f['act-order']) explicit.actOrder = true;
  if (f['static-groups']) explicit.staticGroups = true;
  const percdamp = float(f, 'percdamp', undefined, 0, 1e6);
  if (percdamp !== undefined) explicit.percdamp = percdamp;
  const blockSize = int(f, 'block-size', undefined, 1, 1 << 16);
  if (blockSize !== undefined) explicit.blockSize = blockSize;
  const threshold = float(f, 'threshold', undefined, 0, 1e9);
  if (threshold !== undefined) explicit.threshold = threshold;
  const seed = int(f, 'seed', undefined, 0, 0xffffffff);
  if (seed !== undefined) explicit.seed = seed;
  const nsamples = int(f, 'nsamples', CALIBRATION_DEFAULTS.nsamples, 1, 1 << 20)!;
  const seqlenFlag = int(f, 'seqlen', undefined, 2, 1 << 20);

  const params: CompressionParams = { ...BASE_PARAMS, ...method.defaults, ...explicit, method: method.id };
  if (params.pattern !== 'unstructured') params.sparsity ??= nmSparsity(params.pattern);
  else if (method.kind === 'prune') params.sparsity ??= 0.5;
  if (method.kind === 'quantize') params.bits ??= 4;

  // The calibration file must exist before any model work.
  const source = method.needsCalibration ? resolveCalibrationSource(str(f, 'calib') ?? CALIBRATION_DEFAULTS.source, str(f, 'data-dir')) : null;
  const loaded = await loadModel(modelSpec, { hub: hubOptions(f) });
  const model = loaded.model;
  if (!isLayerwise(model)) throw new UsageError(`compress: the ${loaded.config.modelType} model does not support layer-by-layer compression`);
  const inFeatures = model.linearSites().map((s) => s.linear.inFeatures);
  if (explicit.groupSize === undefined && params.bits !== undefined && params.groupSize > 0 && inFeatures.some((k) => k % params.groupSize !== 0)) {
    // The method's default group size does not fit this model: say so, and name one that does.
    const gcd = inFeatures.reduce((a, b) => { while (b) [a, b] = [b, a % b]; return a; });
    let fit = 1;
    while (fit * 2 <= params.groupSize && gcd % (fit * 2) === 0) fit *= 2;
    throw new UsageError(`${method.id}'s default --group-size ${params.groupSize} does not divide in-features ${[...new Set(inFeatures.filter((k) => k % params.groupSize !== 0))].join(', ')}; pass --group-size ${fit} (or 0 for per-channel)`);
  }
  validateCompression(method, params, inFeatures);
  const calibration = source
    ? sampleCalibration(loaded.tokenizer, source, { nsamples, seqlen: calibrationSeqlen(seqlenFlag, model.info.maxPositions), seed: params.seed })
    : null;

  const progress = new Progress(`compress ${method.id}`, f.quiet === true);
  const report = compressModel(model, method, params, calibration?.samples ?? null, {
    onProgress: (p) => progress.update(p.done, p.total, 'linear layers'),
  });
  progress.done();
  const files = exportCompressedModel({ outDir, sourceDir: loaded.dir, sourceSpec: modelSpec, model, report, calibration });

  const summary = {
    out: outDir, method: method.id, sparsity: report.overall.sparsity, bits: report.overall.bits ?? null,
    weights: report.overall.weights, calibrationTokens: report.calibration?.tokens ?? 0, seconds: report.timing.totalSeconds, files,
  };
  if (f.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else {
    process.stdout.write(`${method.id}: sparsity ${(100 * summary.sparsity).toFixed(2)}%${summary.bits !== null ? `, ${summary.bits} bits` : ''} ` +
      `over ${summary.weights} linear weights in ${summary.seconds.toFixed(1)} s -> ${outDir}\n`);
  }
}
