// config.json -> a validated decoder configuration. One parser per architecture family lives in
// architectures/; this file holds the shared shape and the registry lookup.
import fs from 'node:fs';
import path from 'node:path';
import { FileFormatError, UnsupportedArchitectureError } from '../core/errors.js';

export type HiddenAct = 'silu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh';

export interface RopeScaling {
  type: 'linear' | 'llama3' | 'dynamic' | 'default';
  factor: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositions?: number;
}

/** A Llama-family decoder (Llama 1/2/3, TinyLlama, Mistral, Qwen2). */
export interface DecoderConfig {
  modelType: string;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  tieWordEmbeddings: boolean;
  /** Biases on q/k/v projections (Qwen2, or Llama with attention_bias). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama attention_bias covers o_proj too). */
  oBias: boolean;
  mlpBias: boolean;
  hiddenAct: HiddenAct;
  /** Sliding-window attention span, 0 when disabled. */
  slidingWindow: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

export type RawConfig = Record<string, unknown>;

export function readConfigFile(dir: string): RawConfig {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new FileFormatError(`${file} not found: a model folder needs config.json`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FileFormatError(`${file} is not valid JSON (${(e as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new FileFormatError(`${file} is not a JSON object`);
  return parsed as RawConfig;
}

/** Reads typed fields of a raw config, naming the file and field on error. */
export class ConfigReader {
  constructor(readonly raw: RawConfig, readonly where: string) {}

  int(key: string, fallback?: number, min = 1): number {
    const v = this.raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new FileFormatError(`${this.where}: "${key}" must be an integer >= ${min}, got ${JSON.stringify(this.raw[key])}`);
    }
    return v;
  }

  num(key: string, fallback?: number): number {
    const v = this.raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new FileFormatError(`${this.where}: "${key}" must be a number, got ${JSON.stringify(this.raw[key])}`);
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw new FileFormatError(`${this.where}: "${key}" must be true or false`);
    return v;
  }

  str(key: string, fallback: string): string {
    const v = this.raw[key] ?? fallback;
    if (typeof v !== 'string') throw new FileFormatError(`${this.where}: "${key}" must be a string`);
    return v;
  }

  /** An id or list of ids (eos_token_id may be either). */
  ids(key: string): number[] {
    const v = this.raw[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    for (const x of list) {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) throw new FileFormatError(`${this.where}: "${key}" must be a token id or a list of them`);
    }
    return list as number[];
  }
}

export function unsupported(modelType: unknown, supported: string[]): UnsupportedArchitectureError {
  return new UnsupportedArchitectureError(
    `model_type ${JSON.stringify(modelType)} is not supported; supported: ${supported.join(', ')}`,
  );
}
