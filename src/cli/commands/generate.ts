import { UsageError } from '../../core/errors.js';
import { loadModel } from '../../model/load.js';
import { generate } from '../../model/generate.js';
import { encodeChat } from '../../model/tokenizer.js';
import { COMMON_OPTIONS, Flags, float, int, parseFlags, required, str } from '../args.js';
import { hubOptions, HUB_OPTIONS } from './shared.js';

export const usage =
  'compsafe generate --model M --prompt TEXT [--max-new-tokens N] [--min-new-tokens N] [--temperature T] [--top-p P] [--top-k K] ' +
  '[--seed S] [--samples K] [--stop STR]... [--chat [--system TEXT]] [--json]';

export async function run(argv: string[], setup: (f: Flags) => void): Promise<void> {
  const f = parseFlags(argv, {
    ...COMMON_OPTIONS, ...HUB_OPTIONS, model: { type: 'string' }, prompt: { type: 'string' },
    'max-new-tokens': { type: 'string' }, 'min-new-tokens': { type: 'string' }, temperature: { type: 'string' },
    'top-p': { type: 'string' }, 'top-k': { type: 'string' }, seed: { type: 'string' }, samples: { type: 'string' },
    stop: { type: 'string', multiple: true }, chat: { type: 'boolean' }, system: { type: 'string' },
  }, 'generate');
  setup(f);
  const modelSpec = required(f, 'model', 'generate');
  const prompt = str(f, 'prompt');
  if (prompt === undefined) throw new UsageError('generate: --prompt is required');
  const maxNewTokens = int(f, 'max-new-tokens', 128, 0)!;
  const minNewTokens = int(f, 'min-new-tokens', 0, 0, maxNewTokens)!;
  const topP = float(f, 'top-p', undefined, Number.MIN_VALUE, 1);
  const topK = int(f, 'top-k', undefined, 0);
  let temperature = float(f, 'temperature', undefined, 0, 100);
  const seed = int(f, 'seed', 0, 0, 0xffffffff)!;
  const samples = int(f, 'samples', 1, 1, 100000)!;
  const loaded = await loadModel(modelSpec, { hub: hubOptions(f) });
  const tok = loaded.tokenizer, g = loaded.generation;
  // Sampling settings: flags, else generation_config.json, else greedy.
  if (temperature === undefined) temperature = g.doSample ? g.temperature ?? 1 : 0;
  let ids: number[];
  if (f.chat) {
    const messages = [...(str(f, 'system') ? [{ role: 'system', content: str(f, 'system')! }] : []), { role: 'user', content: prompt }];
    ids = encodeChat(tok, messages, { addGenerationPrompt: true });
  } else {
    ids = tok.encode(prompt, { addSpecialTokens: true });
  }
  const out = generate(loaded.model, tok, [{
    prompt: ids, maxNewTokens, minNewTokens, temperature, topP: topP ?? (g.doSample ? g.topP : undefined),
    topK: topK ?? (g.doSample ? g.topK : undefined), seed, samples, stop: (f.stop as string[] | undefined) ?? [],
  }]);
  for (const s of out) {
    if (f.json) {
      process.stdout.write(JSON.stringify({ sample: s.sampleIndex, seed: s.seed, prompt, text: s.text, tokens: s.tokens, finish: s.finishReason }) + '\n');
    } else {
      if (samples > 1) process.stdout.write(`--- sample ${s.sampleIndex} (${s.finishReason}, ${s.tokens.length} tokens)\n`);
      process.stdout.write((f.chat ? s.text : prompt + s.text) + '\n');
    }
  }
}
