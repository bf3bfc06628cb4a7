// Hugging Face text classifiers (BERT / RoBERTa sequence classification) run in our engine, as scorers:
// a generic one over any such folder, and the named ones of the safety literature. A model is a local
// folder or a hub id (downloaded once; ctx.offline keeps to the cache). The version is the SHA-256 of
// the weight files, so a score changes identity when the model does.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Outcome } from '../backends/backend.js';
import { CompsafeError, FileFormatError, ModelMismatchError } from '../core/errors.js';
import { resolveModelPath } from '../model/hub.js';
import { sigmoid, softmax, TextClassifier } from '../model/encoders/text-classifier.js';
import { ScoreKind, Scorer, ScorerContext, ScoreValue } from './scorer.js';

export interface ClassifierScorerSpec {
  id: string;
  /** Hub id used when the spec has no `=PATH`. */
  defaultModel: string;
  kind: ScoreKind;
  description: string;
  /** How logits become per-label figures: softmax over labels, independent sigmoids (multi-label), or as config.json's problem_type says. */
  activation: 'softmax' | 'sigmoid' | 'auto';
  /** Label names (id2label, matched case-insensitively, first found wins) whose figure is the score. */
  scoreLabels: string[];
  /** Set ScoreValue.label to the argmax label (regard). */
  argmaxLabel: boolean;
}

/** SHA-256 (first 12 hex) over the weight files of a folder, in name order: model.safetensors, or the index and its shards. */
export function weightsDigest(dir: string): string {
  const single = path.join(dir, 'model.safetensors'), index = path.join(dir, 'model.safetensors.index.json');
  let files: string[];
  if (fs.existsSync(single)) files = [single];
  else if (fs.existsSync(index)) {
    files = [index, ...fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort().map((f) => path.join(dir, f))];
  } else throw new FileFormatError(`${dir}: no model.safetensors or model.safetensors.index.json to load the classifier from`);
  const hash = crypto.createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 22);
  for (const file of files) {
    hash.update(path.basename(file));
    const fd = fs.openSync(file, 'r');
    try {
      for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  }
  return hash.digest('hex').slice(0, 12);
}

/** A scorer over the classifier at `model` (folder or hub id; spec.defaultModel when undefined). Throws when the folder cannot be loaded. */
export async function createClassifierScorer(spec: ClassifierScorerSpec, model: string | undefined, ctx: ScorerContext): Promise<Scorer> {
  let dir: string, classifier: TextClassifier, version: string;
  try {
    dir = await resolveModelPath(model ?? spec.defaultModel, ctx.offline === undefined ? {} : { offline: ctx.offline });
    classifier = TextClassifier.fromDir(dir);
    version = weightsDigest(dir);
  } catch (e) {
    // Same error class (the CLI's exit code and message format), with the scorer named for context.
    if (e instanceof CompsafeError) e.message = `scorer ${spec.id}: ${e.message}`;
    throw e;
  }
  const labels = classifier.labels;
  const lower = labels.map((l) => l.toLowerCase());
  const scoreIndex = spec.scoreLabels.map((l) => lower.indexOf(l.toLowerCase())).find((i) => i >= 0);
  if (scoreIndex === undefined) {
    throw new ModelMismatchError(`${spec.id}: the classifier in ${dir} has labels ${JSON.stringify(labels)}, none of ${JSON.stringify(spec.scoreLabels)}; pass a folder of the model this scorer expects (${spec.defaultModel})`);
  }
  const multiLabel = spec.activation === 'sigmoid' ||
    (spec.activation === 'auto' && (classifier.model.config.problemType === 'multi_label_classification' || labels.length === 1));
  const figures = (logits: Float32Array): number[] => (multiLabel ? Array.from(logits, sigmoid) : softmax(logits));

  return {
    id: spec.id,
    version,
    kind: spec.kind,
    description: `${spec.description} (${model ?? spec.defaultModel}; ${multiLabel ? 'sigmoid' : 'softmax'} of label "${labels[scoreIndex]}")`,
    async score(texts, opts = {}): Promise<Outcome<ScoreValue>[]> {
      const results: Outcome<ScoreValue>[] = new Array<Outcome<ScoreValue>>(texts.length);
      const valid: number[] = [], encoded: number[][] = [];
      texts.forEach((text, i) => {
        try {
          const ids = classifier.encode(text);
          if (ids.length === 0) results[i] = { ok: false, error: `${spec.id}: the tokenizer produced no tokens for this text` };
          else { valid.push(i); encoded.push(ids); }
        } catch (e) {
          results[i] = { ok: false, error: `${spec.id}: tokenization failed: ${(e as Error).message}` };
        }
      });
      const invalidCount = texts.length - valid.length;
      let logits: Float32Array[];
      try {
        logits = classifier.logitsOfIds(encoded, { onBatch: (done) => opts.onProgress?.({ done: invalidCount + done, total: texts.length }) });
      } catch (e) {
        for (const i of valid) results[i] = { ok: false, error: `${spec.id}: forward failed: ${(e as Error).message}` };
        return results;
      }
      valid.forEach((i, j) => {
        const values = figures(logits[j]);
        if (!values.every(Number.isFinite)) {
          results[i] = { ok: false, error: `${spec.id}: the classifier returned non-finite logits` };
          return;
        }
        const byLabel: Record<string, number> = {};
        labels.forEach((l, k) => { byLabel[l] = values[k]; });
        const value: ScoreValue = { score: values[scoreIndex], labels: byLabel };
        if (spec.argmaxLabel) value.label = labels[values.indexOf(Math.max(...values))];
        results[i] = { ok: true, value };
      });
      if (texts.length > 0 && valid.length === 0) opts.onProgress?.({ done: texts.length, total: texts.length });
      return results;
    },
  };
}

export const TOXIGEN_ROBERTA: ClassifierScorerSpec = {
  id: 'toxigen-roberta', defaultModel: 'tomh/toxigen_roberta', kind: 'toxicity', activation: 'softmax',
  scoreLabels: ['LABEL_1', 'toxic'], argmaxLabel: false,
  description: 'ToxiGen RoBERTa (Hartvigsen et al. 2022): P(toxic)',
};
export const REGARD: ClassifierScorerSpec = {
  id: 'regard', defaultModel: 'sasha/regardv3', kind: 'regard', activation: 'softmax',
  scoreLabels: ['negative'], argmaxLabel: true,
  description: 'Regard v3 (Sheng et al. 2019): P(negative regard); label = argmax',
};
export const TOXIC_BERT: ClassifierScorerSpec = {
  id: 'toxic-bert', defaultModel: 'unitary/toxic-bert', kind: 'toxicity', activation: 'sigmoid',
  scoreLabels: ['toxic'], argmaxLabel: false,
  description: 'Detoxify toxic-bert (Jigsaw, multi-label): sigmoid of the toxic logit',
};

export const createToxigenRobertaScorer = (arg: string | undefined, ctx: ScorerContext) => createClassifierScorer(TOXIGEN_ROBERTA, arg, ctx);
export const createRegardScorer = (arg: string | undefined, ctx: ScorerContext) => createClassifierScorer(REGARD, arg, ctx);
export const createToxicBertScorer = (arg: string | undefined, ctx: ScorerContext) => createClassifierScorer(TOXIC_BERT, arg, ctx);
