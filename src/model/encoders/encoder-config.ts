// config.json of a BERT / RoBERTa sequence classifier (transformers' BertConfig / RobertaConfig), read
// into the fields our forward needs, with the defaults transformers applies.
import path from 'node:path';
import { FileFormatError } from '../../core/errors.js';
import { ConfigReader, RawConfig, unsupported } from '../config.js';

export type EncoderFamily = 'bert' | 'roberta';
export type EncoderActivation = 'gelu' | 'gelu_tanh';
export type ClassifierProblem = 'single_label_classification' | 'multi_label_classification' | 'regression';

export interface EncoderConfig {
  family: EncoderFamily;
  /** Weight name prefix of the encoder: "bert." or "roberta.". */
  prefix: string;
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  headDim: number;
  intermediate: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  activation: EncoderActivation;
  /** pad_token_id; RoBERTa positions count from padIndex + 1. */
  padIndex: number;
  /** Position id of the first token: 0 (BERT) or padIndex + 1 (RoBERTa). */
  positionOffset: number;
  /** Longest input in tokens, special tokens included: maxPositions - positionOffset. */
  maxTokens: number;
  numLabels: number;
  /** Label names by class index (id2label, else LABEL_i as transformers names them). */
  labels: string[];
  /** RoBERTa's <s> and </s> ids (bos_token_id / eos_token_id, default 0 / 2), for tokenizers that add no special tokens; null for BERT. */
  bosId: number | null;
  eosId: number | null;
  /** problem_type when config.json sets it; null otherwise. */
  problemType: ClassifierProblem | null;
}

const SUPPORTED = ['bert', 'roberta'];
const ACTIVATIONS: Record<string, EncoderActivation> = {
  gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh',
};

export function parseEncoderConfig(raw: RawConfig, dir: string): EncoderConfig {
  const where = path.join(dir, 'config.json');
  const r = new ConfigReader(raw, where);
  const modelType = raw.model_type;
  if (modelType !== 'bert' && modelType !== 'roberta') throw unsupported(modelType, SUPPORTED);
  const family: EncoderFamily = modelType;
  const hidden = r.int('hidden_size', 768), heads = r.int('num_attention_heads', 12);
  if (hidden % heads !== 0) throw new FileFormatError(`${where}: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  const actName = r.str('hidden_act', 'gelu');
  const activation = ACTIVATIONS[actName];
  if (!activation) throw new FileFormatError(`${where}: hidden_act "${actName}" is not supported; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
  const positionType = r.str('position_embedding_type', 'absolute');
  if (positionType !== 'absolute') throw new FileFormatError(`${where}: position_embedding_type "${positionType}" is not supported; only "absolute"`);
  const padIndex = r.int('pad_token_id', family === 'roberta' ? 1 : 0, 0);
  const maxPositions = r.int('max_position_embeddings', 512);
  const positionOffset = family === 'roberta' ? padIndex + 1 : 0;
  if (maxPositions <= positionOffset + 1) throw new FileFormatError(`${where}: max_position_embeddings ${maxPositions} leaves no room for tokens after the offset ${positionOffset}`);
  const labels = readLabels(raw, where);
  const problem = raw.problem_type;
  if (problem !== undefined && problem !== null && problem !== 'single_label_classification' &&
      problem !== 'multi_label_classification' && problem !== 'regression') {
    throw new FileFormatError(`${where}: problem_type ${JSON.stringify(problem)} is not one of single_label_classification, multi_label_classification, regression`);
  }
  return {
    family, prefix: `${family}.`,
    vocabSize: r.int('vocab_size'), hidden, layers: r.int('num_hidden_layers', 12), heads, headDim: hidden / heads,
    intermediate: r.int('intermediate_size', 3072), maxPositions, typeVocabSize: r.int('type_vocab_size', 2),
    layerNormEps: r.num('layer_norm_eps', 1e-12), activation, padIndex, positionOffset,
    maxTokens: maxPositions - positionOffset, numLabels: labels.length, labels,
    bosId: family === 'roberta' ? r.int('bos_token_id', 0, 0) : null,
    eosId: family === 'roberta' ? r.int('eos_token_id', 2, 0) : null,
    problemType: (problem ?? null) as ClassifierProblem | null,
  };
}

/** id2label ({"0": "LABEL_0", ...}) checked against num_labels; transformers' default names when absent. */
function readLabels(raw: RawConfig, where: string): string[] {
  const id2label = raw.id2label;
  const numLabels = raw.num_labels;
  if (id2label !== undefined && id2label !== null) {
    if (typeof id2label !== 'object' || Array.isArray(id2label)) throw new FileFormatError(`${where}: "id2label" must be an object of index -> label name`);
    const entries = Object.entries(id2label as Record<string, unknown>);
    const labels: string[] = new Array<string>(entries.length);
    for (const [key, name] of entries) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length || typeof name !== 'string' || labels[i] !== undefined) {
        throw new FileFormatError(`${where}: "id2label" must map the indices 0..${entries.length - 1} to label names once each; bad entry ${JSON.stringify(key)}: ${JSON.stringify(name)}`);
      }
      labels[i] = name;
    }
    if (typeof numLabels === 'number' && numLabels !== labels.length) {
      throw new FileFormatError(`${where}: num_labels is ${numLabels} but id2label has ${labels.length} entries`);
    }
    if (labels.length === 0) throw new FileFormatError(`${where}: "id2label" is empty`);
    return labels;
  }
  const n = typeof numLabels === 'number' && Number.isInteger(numLabels) && numLabels > 0 ? numLabels : 2;
  return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
}
