// Loading a Hugging Face model folder (or hub id) into the engine: config -> architecture,
// safetensors (single or sharded, F32/F16/BF16 -> fp32), tokenizer, generation defaults.
import fs from 'node:fs';
import path from 'node:path';
import { FileFormatError, ModelMismatchError } from '../core/errors.js';
import { DecoderConfig, readConfigFile } from './config.js';
import { architectureFor } from './architectures/index.js';
import { CausalLM } from './causal-lm.js';
import { openCheckpoint, readTensorsF32 } from './safetensors.js';
import { TextTokenizer, loadTokenizer } from './tokenizer.js';
import { HubOptions, resolveModelPath } from './hub.js';
// compsafe compress (issue 3): activation-dependent linear modes recorded in compsafe_recipe.json.
import { applyRecordedLinearMode } from './int8-linear.js';

export interface GenerationDefaults {
  doSample: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  maxNewTokens?: number;
  eosTokenIds: number[];
}

export interface LoadedModel {
  dir: string;
  config: DecoderConfig;
  model: CausalLM;
  tokenizer: TextTokenizer;
  generation: GenerationDefaults;
}

function readGenerationConfig(dir: string): Record<string, unknown> {
  const file = path.join(dir, 'generation_config.json');
  if (!fs.existsSync(file)) return {};
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    return v && typeof v === 'object' ? v : {};
  } catch (e) {
    throw new FileFormatError(`${file} is not valid JSON (${(e as Error).message})`);
  }
}

function idList(v: unknown): number[] {
  const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return list.filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

/** Builds the model from a local folder. */
export function loadModelFromDir(dir: string, opts: { tokenizer?: boolean } = {}): LoadedModel {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new FileFormatError(`model folder ${dir} does not exist`);
  const raw = readConfigFile(dir);
  const arch = architectureFor(raw);
  const config = arch.parseConfig(raw, path.join(dir, 'config.json'));
  const ckpt = openCheckpoint(dir);
  const model: CausalLM = arch.build(config, (name, shape) => {
    const entry = ckpt.tensors.get(name);
    if (!entry) return undefined;
    const { info } = entry;
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelMismatchError(`tensor "${name}" has shape [${info.shape}] in ${entry.header.file}, but config.json implies [${shape}]`);
    }
    return readTensorsF32(entry.header, [name]).get(name)!.data;
  });
  // compsafe compress (issue 3): a folder written by `compsafe compress --method llm-int8` records
  // linear_mode in compsafe_recipe.json; rebuild that mode (model/int8-linear.ts).
  applyRecordedLinearMode(dir, model);
  const gen = readGenerationConfig(dir);
  const eosTokenIds = [...new Set([...idList(gen.eos_token_id), ...config.eosTokenIds])];
  const generation: GenerationDefaults = {
    doSample: gen.do_sample === true,
    temperature: typeof gen.temperature === 'number' ? gen.temperature : undefined,
    topK: typeof gen.top_k === 'number' ? gen.top_k : undefined,
    topP: typeof gen.top_p === 'number' ? gen.top_p : undefined,
    maxNewTokens: typeof gen.max_new_tokens === 'number' ? gen.max_new_tokens : undefined,
    eosTokenIds,
  };
  const tokenizer = opts.tokenizer === false ? (null as unknown as TextTokenizer) : loadTokenizer(dir, { eosTokenIds });
  if (tokenizer && tokenizer.vocabSize > config.vocabSize) {
    throw new ModelMismatchError(`tokenizer has ${tokenizer.vocabSize} tokens but config.json vocab_size is ${config.vocabSize}`);
  }
  return { dir, config, model, tokenizer, generation };
}

/** A local folder or a hub id (`org/name[@revision]`, downloaded once into the hub cache). */
export async function loadModel(spec: string, opts: { hub?: HubOptions; tokenizer?: boolean } = {}): Promise<LoadedModel> {
  const dir = await resolveModelPath(spec, opts.hub);
  return loadModelFromDir(dir, opts);
}
