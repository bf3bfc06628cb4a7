// Registry: config.json model_type -> config parser and model class. A new family is a new file here
// and one entry below (GPT-2, OPT and BERT/RoBERTa encoders come next, beside llama.ts).
import { DecoderConfig, RawConfig, unsupported } from '../config.js';
import { CausalLM } from '../causal-lm.js';
import { parseLlamaConfig } from './llama-config.js';
import { LlamaModel, TensorSource } from './llama.js';

export interface Architecture {
  parseConfig(raw: RawConfig, where: string): DecoderConfig;
  build(config: DecoderConfig, source: TensorSource): CausalLM;
}

const llamaFamily: Architecture = {
  parseConfig: parseLlamaConfig,
  build: (config, source) => new LlamaModel(config, source),
};

export const ARCHITECTURES: Record<string, Architecture> = {
  llama: llamaFamily,
  mistral: llamaFamily,
  qwen2: llamaFamily,
};

export function architectureFor(raw: RawConfig): Architecture {
  const type = raw.model_type;
  const arch = typeof type === 'string' ? ARCHITECTURES[type] : undefined;
  if (!arch) throw unsupported(type, Object.keys(ARCHITECTURES));
  return arch;
}
