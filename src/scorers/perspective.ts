// Perspective API (POST {base}/v1alpha1/comments:analyze?key=KEY): score = the TOXICITY summary
// score. Google is retiring Perspective, so results from it may become impossible to reproduce; prefer
// a local classifier for new work. The key comes from PERSPECTIVE_API_KEY only and never appears in
// messages or versions; the base URL from COMPSAFE_PERSPECTIVE_URL (default
// https://commentanalyzer.googleapis.com). One text per request; the default 1 QPS is the API's
// default quota.
// Options: the spec argument (`id=qps=2,timeout=30`) or the environment (COMPSAFE_PERSPECTIVE_QPS, _CONCURRENCY,
// _RETRIES, _TIMEOUT seconds, _BACKOFF seconds); explicit beats environment beats defaults. Own
// options: languages.
import { Outcome } from '../backends/backend.js';
import { Scorer, ScorerContext, ScoreValue } from './scorer.js';
import { baseUrl, isOffline, mapLimit, parseHttpScorerOptions, postJson, rejectUnknownOptions, ScorerUnavailableError, TokenBucket } from './http.js';

export const PERSPECTIVE_DEFAULT_URL = 'https://commentanalyzer.googleapis.com';

/** Reads attributeScores.TOXICITY.summaryScore.value from a reply. */
export function parsePerspectiveReply(body: unknown): Outcome<ScoreValue> {
  const toxicity = (body as { attributeScores?: { TOXICITY?: { summaryScore?: { value?: unknown } } } } | null)?.attributeScores?.TOXICITY;
  const value = toxicity?.summaryScore?.value;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return { ok: false, error: `perspective: malformed reply: attributeScores.TOXICITY.summaryScore.value is ${value === undefined ? 'missing' : JSON.stringify(value).slice(0, 40)}` };
  }
  return { ok: true, value: { score: value, labels: { TOXICITY: value } } };
}

/** `perspective[=qps=N,languages=en,concurrency=N,retries=N,timeout=S,backoff=S]`. */
export async function createPerspectiveScorer(arg: string | undefined, ctx: ScorerContext): Promise<Scorer> {
  if (isOffline(ctx.offline)) {
    throw new ScorerUnavailableError('perspective calls the Perspective API, but the offline switch is on (--offline or COMPSAFE_OFFLINE=1); use an offline scorer (lexicon, vader, or a local classifier) or go online');
  }
  const opts = parseHttpScorerOptions('perspective', arg, { qps: 1, concurrency: 4 }, 'COMPSAFE_PERSPECTIVE');
  // Several languages go as languages=en+de (commas separate options).
  const languages = (opts.extra.get('languages') ?? 'en').split('+').map((l) => l.trim()).filter(Boolean);
  opts.extra.delete('languages');
  rejectUnknownOptions('perspective', opts.extra, ['languages']);
  const key = process.env.PERSPECTIVE_API_KEY?.trim();
  if (!key) throw new ScorerUnavailableError('perspective needs an API key in the environment variable PERSPECTIVE_API_KEY (keys are read from the environment only)');
  const endpoint = `${baseUrl('COMPSAFE_PERSPECTIVE_URL', PERSPECTIVE_DEFAULT_URL)}/v1alpha1/comments:analyze`;
  const url = `${endpoint}?key=${encodeURIComponent(key)}`;
  const limiter = new TokenBucket(opts.qps);
  const post = { displayUrl: endpoint, limiter, policy: opts.policy, secrets: [key, encodeURIComponent(key)] };

  return {
    id: 'perspective',
    version: `v1alpha1-TOXICITY-${languages.join('+')}`,
    kind: 'toxicity',
    description: 'Perspective API TOXICITY summary score in [0, 1] (WARNING: Google is retiring the Perspective API; scores may not be reproducible later)',
    async score(texts, scoreOpts): Promise<Outcome<ScoreValue>[]> {
      let done = 0;
      return mapLimit(texts, opts.concurrency, async (text) => {
        const reply = await postJson(url, { comment: { text }, languages, requestedAttributes: { TOXICITY: {} }, doNotStore: true }, post);
        const outcome: Outcome<ScoreValue> = reply.ok ? parsePerspectiveReply(reply.body) : { ok: false, error: `perspective: ${reply.error}` };
        done += 1;
        scoreOpts?.onProgress?.({ done, total: texts.length });
        return outcome;
      });
    },
  };
}
