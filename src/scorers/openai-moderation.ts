// OpenAI moderation endpoint (POST {base}/v1/moderations). score = the `hate` category score, as the
// paper used; labels = every category score. The key comes from OPENAI_API_KEY only; the base URL
// from COMPSAFE_OPENAI_MODERATION_URL (default https://api.openai.com), so tests can point it at a
// local server. Texts go in batches (`input` as an array); a failed or malformed reply fails every
// text of its batch, as failures, never zeros.
// Options: the spec argument (`id=qps=2,timeout=30`) or the environment (COMPSAFE_OPENAI_MODERATION_QPS, _CONCURRENCY,
// _RETRIES, _TIMEOUT seconds, _BACKOFF seconds); explicit beats environment beats defaults. Own
// options: model, batch.
import { Outcome } from '../backends/backend.js';
import { UsageError } from '../core/errors.js';
import { Scorer, ScorerContext, ScoreValue } from './scorer.js';
import { baseUrl, isOffline, mapLimit, parseHttpScorerOptions, postJson, rejectUnknownOptions, ScorerUnavailableError, TokenBucket } from './http.js';

export const OPENAI_MODERATION_DEFAULT_URL = 'https://api.openai.com';
export const OPENAI_MODERATION_DEFAULT_MODEL = 'omni-moderation-latest';

/** Reads one `results[k]` entry: category_scores with a numeric `hate`. */
export function parseModerationResult(result: unknown): Outcome<ScoreValue> {
  const scores = (result as { category_scores?: unknown } | null)?.category_scores;
  if (scores === null || typeof scores !== 'object' || Array.isArray(scores)) {
    return { ok: false, error: 'openai-moderation: malformed reply: a result without category_scores' };
  }
  const labels: Record<string, number> = {};
  for (const [name, value] of Object.entries(scores as Record<string, unknown>)) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return { ok: false, error: `openai-moderation: malformed reply: category_scores.${name} is ${JSON.stringify(value)?.slice(0, 40)}, not a number` };
    }
    labels[name] = value;
  }
  if (labels.hate === undefined) return { ok: false, error: 'openai-moderation: malformed reply: category_scores has no "hate" score' };
  return { ok: true, value: { score: labels.hate, labels } };
}

/** `openai-moderation[=model=NAME,qps=N,batch=N,concurrency=N,retries=N,timeout=S,backoff=S]`. */
export async function createOpenAIModerationScorer(arg: string | undefined, ctx: ScorerContext): Promise<Scorer> {
  if (isOffline(ctx.offline)) {
    throw new ScorerUnavailableError('openai-moderation calls the OpenAI API, but the offline switch is on (--offline or COMPSAFE_OFFLINE=1); use an offline scorer (lexicon, vader, or a local classifier) or go online');
  }
  const opts = parseHttpScorerOptions('openai-moderation', arg, { qps: 5, concurrency: 4 }, 'COMPSAFE_OPENAI_MODERATION');
  const model = opts.extra.get('model') || OPENAI_MODERATION_DEFAULT_MODEL;
  const batchRaw = opts.extra.get('batch') ?? '16';
  const batch = Number(batchRaw);
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`openai-moderation: batch must be an integer >= 1, got "${batchRaw}"`);
  opts.extra.delete('model');
  opts.extra.delete('batch');
  rejectUnknownOptions('openai-moderation', opts.extra, ['model', 'batch']);
  const key = process.env.OPENAI_API_KEY?.trim();
  if (!key) throw new ScorerUnavailableError('openai-moderation needs an API key in the environment variable OPENAI_API_KEY (keys are read from the environment only)');
  const url = `${baseUrl('COMPSAFE_OPENAI_MODERATION_URL', OPENAI_MODERATION_DEFAULT_URL)}/v1/moderations`;
  const limiter = new TokenBucket(opts.qps);
  const post = { displayUrl: url, headers: { authorization: `Bearer ${key}` }, limiter, policy: opts.policy, secrets: [key] };

  return {
    id: 'openai-moderation',
    // The model alias may move to a new snapshot; the alias is what we can pin.
    version: `v1-${model}`,
    kind: 'moderation',
    description: `OpenAI moderation endpoint (${model}): score = the "hate" category score in [0, 1]; labels = all category scores`,
    async score(texts, scoreOpts): Promise<Outcome<ScoreValue>[]> {
      const batches: number[][] = [];
      for (let k = 0; k < texts.length; k += batch) batches.push(Array.from({ length: Math.min(batch, texts.length - k) }, (_, j) => k + j));
      const out = new Array<Outcome<ScoreValue>>(texts.length);
      let done = 0;
      await mapLimit(batches, opts.concurrency, async (indices) => {
        const reply = await postJson(url, { model, input: indices.map((k) => texts[k]) }, post);
        const results = reply.ok ? (reply.body as { results?: unknown } | null)?.results : undefined;
        if (!reply.ok) {
          for (const k of indices) out[k] = { ok: false, error: `openai-moderation: ${reply.error}` };
        } else if (!Array.isArray(results) || results.length !== indices.length) {
          const got = Array.isArray(results) ? `${results.length} results` : 'no results array';
          for (const k of indices) out[k] = { ok: false, error: `openai-moderation: malformed reply: expected ${indices.length} results, got ${got}` };
        } else {
          indices.forEach((k, j) => { out[k] = parseModerationResult(results[j]); });
        }
        done += indices.length;
        scoreOpts?.onProgress?.({ done, total: texts.length });
      });
      return out;
    },
  };
}
