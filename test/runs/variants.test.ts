// Compressed variant folders: made once, reused while the spec and the weights match, recompressed
// when either changes; leftovers of a run killed mid-export are cleared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseSweepConfig } from '../../src/runs/config.js';
import { planVariants, prepareVariant } from '../../src/runs/variants.js';
import { weightFilesHash } from '../../src/compress/export.js';
import { shared, tempDir } from '../helpers/fixtures.js';

test('a variant folder is reused when its spec and weights match, and rebuilt when they do not', async () => {
  const modelDir = shared('models', 'babyllama-tok105');
  const cfg = parseSweepConfig(`model: ${JSON.stringify(modelDir)}\nvariants: [{ method: magnitude, sparsity: [0.4, 0.5] }]\ntasks: [{ name: bbq }]\n`, 'x', '/');
  const [dense, m40, m50] = planVariants(cfg);
  const runDir = tempDir();
  const base = { spec: modelDir, dir: modelDir, weightsSha256: weightFilesHash(modelDir).sha256 };

  const d = await prepareVariant(dense, runDir, base, undefined);
  assert.equal(d.dir, modelDir, 'the dense model is evaluated where it is');
  assert.equal(d.weightsSha256, base.weightsSha256);

  // A killed export leaves a temporary folder behind: it is cleared.
  fs.mkdirSync(path.join(runDir, 'models', `.${m40.name}.partial-99999`), { recursive: true });
  const first = await prepareVariant(m40, runDir, base, undefined);
  assert.equal(first.reused, false);
  assert.deepEqual(fs.readdirSync(path.join(runDir, 'models')).sort(), [m40.name, `${m40.name}.variant.json`]);
  const recipe = first.recipe as { method: string; result: { sparsity: number } };
  assert.equal(recipe.method, 'magnitude');
  assert.ok(Math.abs(recipe.result.sparsity - 0.4) < 0.01);

  const again = await prepareVariant(m40, runDir, base, undefined);
  assert.equal(again.reused, true);
  assert.equal(again.variantHash, first.variantHash);

  // Same name, another spec (here: another rate under the old name): rebuilt, with a new hash.
  const changed = await prepareVariant({ ...m50, name: m40.name }, runDir, base, undefined);
  assert.equal(changed.reused, false);
  assert.notEqual(changed.variantHash, first.variantHash);

  // Weights edited on disk: rebuilt.
  const weights = path.join(runDir, 'models', m40.name, 'model.safetensors');
  const bytes = fs.readFileSync(weights);
  bytes[bytes.length - 1] ^= 1;
  fs.writeFileSync(weights, bytes);
  const repaired = await prepareVariant({ ...m50, name: m40.name }, runDir, base, undefined);
  assert.equal(repaired.reused, false);
  assert.equal(repaired.variantHash, changed.variantHash, 'the same spec compresses to the same weights');
});
