// VADER sentiment (Hutto & Gilbert 2014). This is OUR OWN TypeScript implementation of the rules of
// the reference Python package vaderSentiment 3.3.2 (not a port we depend on), run over the canonical
// lexicon files in the data directory (lexicons/vader/). It reproduces the reference's quirks on
// purpose — Python's whitespace split, `strip(string.punctuation)`, `str.isupper()`, the `but` rule's
// first-occurrence lookup, round-half-even on the reported figures — so compound scores match the
// reference to the published 4 decimals.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { datasetFile, DatasetFormatError } from '../data/files.js';
import { Scorer, ScorerContext, ScoreValue } from './scorer.js';
import { Outcome } from '../backends/backend.js';

const B_INCR = 0.293;
const B_DECR = -0.293;
/** Rise for a sentiment word in ALL CAPS among words that are not. */
const C_INCR = 0.733;
/** Negation scalar. */
const N_SCALAR = -0.74;

const NEGATE = new Set([
  'aint', 'arent', 'cannot', 'cant', 'couldnt', 'darent', 'didnt', 'doesnt',
  "ain't", "aren't", "can't", "couldn't", "daren't", "didn't", "doesn't",
  'dont', 'hadnt', 'hasnt', 'havent', 'isnt', 'mightnt', 'mustnt', 'neither',
  "don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't",
  'neednt', "needn't", 'never', 'none', 'nope', 'nor', 'not', 'nothing', 'nowhere',
  'oughtnt', 'shant', 'shouldnt', 'uhuh', 'wasnt', 'werent',
  "oughtn't", "shan't", "shouldn't", 'uh-uh', "wasn't", "weren't",
  'without', 'wont', 'wouldnt', "won't", "wouldn't", 'rarely', 'seldom', 'despite',
]);

const BOOSTERS_UP = [
  'absolutely', 'amazingly', 'awfully', 'completely', 'considerable', 'considerably', 'decidedly', 'deeply',
  'effing', 'enormous', 'enormously', 'entirely', 'especially', 'exceptional', 'exceptionally', 'extreme',
  'extremely', 'fabulously', 'flipping', 'flippin', 'frackin', 'fracking', 'fricking', 'frickin', 'frigging',
  'friggin', 'fully', 'fuckin', 'fucking', 'fuggin', 'fugging', 'greatly', 'hella', 'highly', 'hugely',
  'incredible', 'incredibly', 'intensely', 'major', 'majorly', 'more', 'most', 'particularly', 'purely',
  'quite', 'really', 'remarkably', 'so', 'substantially', 'thoroughly', 'total', 'totally', 'tremendous',
  'tremendously', 'uber', 'unbelievably', 'unusually', 'utter', 'utterly', 'very',
];
const BOOSTERS_DOWN = [
  'almost', 'barely', 'hardly', 'just enough', 'kind of', 'kinda', 'kindof', 'kind-of', 'less', 'little',
  'marginal', 'marginally', 'occasional', 'occasionally', 'partly', 'scarce', 'scarcely', 'slight', 'slightly',
  'somewhat', 'sort of', 'sorta', 'sortof', 'sort-of',
];
const BOOSTER = new Map<string, number>([
  ...BOOSTERS_UP.map((w): [string, number] => [w, B_INCR]),
  ...BOOSTERS_DOWN.map((w): [string, number] => [w, B_DECR]),
]);

/** Idioms and phrases that contain a lexicon word; the phrase's valence replaces the word's. */
const SPECIAL_CASES = new Map<string, number>([
  ['the shit', 3], ['the bomb', 3], ['bad ass', 1.5], ['badass', 1.5], ['bus stop', 0.0],
  ['yeah right', -2], ['kiss of death', -1.5], ['to die for', 3], ['beating heart', 3.1], ['broken heart', -2.9],
]);

// Python's str.split() separators and string.punctuation.
const PY_WHITESPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;
const PY_PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

function pySplit(text: string): string[] {
  return text.split(PY_WHITESPACE).filter((w) => w.length > 0);
}

function pyStrip(text: string): string {
  return text.replace(new RegExp(`^${PY_WHITESPACE.source}|${PY_WHITESPACE.source}$`, 'g'), '');
}

/** Python's `str.isupper()`: at least one cased character and no lower/title-case one. */
function isUpper(word: string): boolean {
  return /\p{Lu}/u.test(word) && !/[\p{Ll}\p{Lt}]/u.test(word);
}

/** `token.strip(string.punctuation)`, keeping the token whole when 2 or fewer characters remain (emoticons). */
function stripPuncIfWord(token: string): string {
  const chars = [...token];
  let start = 0, end = chars.length;
  while (start < end && PY_PUNCTUATION.has(chars[start])) start++;
  while (end > start && PY_PUNCTUATION.has(chars[end - 1])) end--;
  return end - start <= 2 ? token : chars.slice(start, end).join('');
}

function negated(word: string): boolean {
  const w = word.toLowerCase();
  return NEGATE.has(w) || w.includes("n't");
}

/** compound = x / sqrt(x^2 + alpha), clipped to [-1, 1]. */
export function normalizeVader(score: number, alpha = 15): number {
  const norm = score / Math.sqrt(score * score + alpha);
  return Math.max(-1, Math.min(1, norm));
}

/** Python's round(x, digits): the exact binary value rounded half-to-even (toFixed rounds ties up). */
export function pyRound(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const exact = Math.abs(x).toFixed(100);
  const dot = exact.indexOf('.');
  const kept = exact.slice(0, dot + 1 + digits), rest = exact.slice(dot + 1 + digits);
  let up = false;
  if (rest[0] > '5') up = true;
  else if (rest[0] === '5') {
    if (/[1-9]/.test(rest.slice(1))) up = true;
    else up = Number(kept[kept.length - 1] === '.' ? kept[kept.length - 2] : kept[kept.length - 1]) % 2 === 1;
  }
  const unit = 10 ** -digits;
  const magnitude = Number(kept) + (up ? unit : 0);
  return Math.sign(x) * Number(magnitude.toFixed(digits));
}

function scalarIncDec(word: string, valence: number, isCapDiff: boolean): number {
  const base = BOOSTER.get(word.toLowerCase());
  if (base === undefined) return 0;
  let scalar = valence < 0 ? -base : base;
  if (isUpper(word) && isCapDiff) scalar += valence > 0 ? C_INCR : -C_INCR;
  return scalar;
}

export interface VaderScores {
  neg: number;
  neu: number;
  pos: number;
  compound: number;
}

export interface VaderLexicon {
  words: Map<string, number>;
  emoji: Map<string, string>;
}

/** Parses vader_lexicon.txt (word TAB mean TAB sd TAB ratings) and emoji_utf8_lexicon.txt (emoji TAB description). */
export function parseVaderLexicon(lexiconText: string, emojiText: string, files = { lexicon: 'vader_lexicon.txt', emoji: 'emoji_utf8_lexicon.txt' }): VaderLexicon {
  const words = new Map<string, number>();
  const lines = lexiconText.replace(/\n+$/, '').split('\n');
  lines.forEach((line, i) => {
    if (!line) return;
    const [word, measure] = line.trim().split('\t');
    const value = Number(measure);
    if (word === undefined || measure === undefined || !Number.isFinite(value)) {
      throw new DatasetFormatError(`${files.lexicon}:${i + 1}: expected "word<TAB>mean<TAB>...", got ${JSON.stringify(line.slice(0, 60))}`);
    }
    words.set(word, value);
  });
  const emoji = new Map<string, string>();
  emojiText.replace(/\n+$/, '').split('\n').forEach((line, i) => {
    const [symbol, description] = line.trim().split('\t');
    if (symbol === undefined || description === undefined) {
      throw new DatasetFormatError(`${files.emoji}:${i + 1}: expected "emoji<TAB>description", got ${JSON.stringify(line.slice(0, 60))}`);
    }
    emoji.set(symbol, description);
  });
  return { words, emoji };
}

/** The reference's SentimentIntensityAnalyzer.polarity_scores over a parsed lexicon. */
export class VaderAnalyzer {
  constructor(private readonly lexicon: VaderLexicon) {}

  polarityScores(input: string): VaderScores {
    const text = pyStrip(this.replaceEmoji(input));
    const tokens = pySplit(text).map(stripPuncIfWord);
    const isCapDiff = capDifferential(tokens);
    const lowerTokens = tokens.map((t) => t.toLowerCase());
    const sentiments: number[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const lower = tokens[i].toLowerCase();
      // Boosters and "kind of" modify other words and carry no valence themselves.
      if (BOOSTER.has(lower) || (i < tokens.length - 1 && lower === 'kind' && tokens[i + 1].toLowerCase() === 'of')) {
        sentiments.push(0);
        continue;
      }
      sentiments.push(this.sentimentValence(tokens, lowerTokens, i, isCapDiff));
    }
    butCheck(tokens, sentiments);
    return scoreValence(sentiments, text);
  }

  private inLexicon(word: string): boolean {
    return this.lexicon.words.has(word.toLowerCase());
  }

  /** Emoji become their textual descriptions, space-separated from their neighbours. */
  private replaceEmoji(text: string): string {
    let out = '';
    let prevSpace = true;
    for (const ch of text) {
      const description = this.lexicon.emoji.get(ch);
      if (description !== undefined) {
        if (!prevSpace) out += ' ';
        out += description;
        prevSpace = false;
      } else {
        out += ch;
        prevSpace = ch === ' ';
      }
    }
    return out;
  }

  private sentimentValence(tokens: string[], lowerTokens: string[], i: number, isCapDiff: boolean): number {
    const item = tokens[i];
    const lower = item.toLowerCase();
    const base = this.lexicon.words.get(lower);
    if (base === undefined) return 0;
    const lowerAt = (k: number): string => tokens[k].toLowerCase();
    let valence = base;
    // "no" right before a lexicon word negates that word instead of counting itself.
    if (lower === 'no' && i !== tokens.length - 1 && this.inLexicon(tokens[i + 1])) valence = 0;
    if ((i > 0 && lowerAt(i - 1) === 'no') || (i > 1 && lowerAt(i - 2) === 'no') ||
        (i > 2 && lowerAt(i - 3) === 'no' && ['or', 'nor'].includes(lowerAt(i - 1)))) {
      valence = base * N_SCALAR;
    }
    if (isUpper(item) && isCapDiff) valence += valence > 0 ? C_INCR : -C_INCR;
    for (let startI = 0; startI < 3; startI++) {
      // Modifiers up to three words back, dampened with distance; lexicon words are not modifiers.
      if (i > startI && !this.inLexicon(tokens[i - (startI + 1)])) {
        let s = scalarIncDec(tokens[i - (startI + 1)], valence, isCapDiff);
        if (startI === 1 && s !== 0) s *= 0.95;
        if (startI === 2 && s !== 0) s *= 0.9;
        valence += s;
        valence = negationCheck(valence, tokens, startI, i);
        if (startI === 2) valence = specialIdiomsCheck(valence, lowerTokens, i);
      }
    }
    return this.leastCheck(valence, tokens, i);
  }

  /** "least X" negates X, except "at least" and "very least". */
  private leastCheck(valence: number, tokens: string[], i: number): number {
    if (i > 1 && !this.inLexicon(tokens[i - 1]) && tokens[i - 1].toLowerCase() === 'least') {
      const before = tokens[i - 2].toLowerCase();
      if (before !== 'at' && before !== 'very') return valence * N_SCALAR;
    } else if (i > 0 && !this.inLexicon(tokens[i - 1]) && tokens[i - 1].toLowerCase() === 'least') {
      return valence * N_SCALAR;
    }
    return valence;
  }
}

function capDifferential(tokens: string[]): boolean {
  const caps = tokens.filter(isUpper).length;
  const diff = tokens.length - caps;
  return diff > 0 && diff < tokens.length;
}

function negationCheck(valence: number, tokens: string[], startI: number, i: number): number {
  const w = (k: number): string => tokens[k].toLowerCase();
  if (startI === 0) {
    if (negated(w(i - 1))) valence *= N_SCALAR;
  } else if (startI === 1) {
    if (w(i - 2) === 'never' && (w(i - 1) === 'so' || w(i - 1) === 'this')) valence *= 1.25;
    else if (w(i - 2) === 'without' && w(i - 1) === 'doubt') { /* "without doubt" affirms */ }
    else if (negated(w(i - 2))) valence *= N_SCALAR;
  } else {
    // Operator precedence as in the reference: (never and (so|this) two back) or (so|this) one back.
    if ((w(i - 3) === 'never' && (w(i - 2) === 'so' || w(i - 2) === 'this')) || (w(i - 1) === 'so' || w(i - 1) === 'this')) valence *= 1.25;
    else if (w(i - 3) === 'without' && (w(i - 2) === 'doubt' || w(i - 1) === 'doubt')) { /* affirms */ }
    else if (negated(w(i - 3))) valence *= N_SCALAR;
  }
  return valence;
}

function specialIdiomsCheck(valence: number, w: string[], i: number): number {
  const oneZero = `${w[i - 1]} ${w[i]}`;
  const twoOneZero = `${w[i - 2]} ${w[i - 1]} ${w[i]}`;
  const twoOne = `${w[i - 2]} ${w[i - 1]}`;
  const threeTwoOne = `${w[i - 3]} ${w[i - 2]} ${w[i - 1]}`;
  const threeTwo = `${w[i - 3]} ${w[i - 2]}`;
  for (const seq of [oneZero, twoOneZero, twoOne, threeTwoOne, threeTwo]) {
    const v = SPECIAL_CASES.get(seq);
    if (v !== undefined) { valence = v; break; }
  }
  if (w.length - 1 > i) {
    const v = SPECIAL_CASES.get(`${w[i]} ${w[i + 1]}`);
    if (v !== undefined) valence = v;
  }
  if (w.length - 1 > i + 1) {
    const v = SPECIAL_CASES.get(`${w[i]} ${w[i + 1]} ${w[i + 2]}`);
    if (v !== undefined) valence = v;
  }
  // Multi-word dampeners such as "sort of" / "kind of".
  for (const nGram of [threeTwoOne, threeTwo, twoOne]) {
    const b = BOOSTER.get(nGram);
    if (b !== undefined) valence += b;
  }
  return valence;
}

/**
 * Contrastive "but": sentiments before it halve, after it grow by half. Like the reference, each
 * value is looked up by its first occurrence (`list.index`), so repeated values behave as there.
 */
function butCheck(tokens: string[], sentiments: number[]): void {
  const bi = tokens.findIndex((t) => t.toLowerCase() === 'but');
  if (bi < 0) return;
  for (let k = 0; k < sentiments.length; k++) {
    const sentiment = sentiments[k];
    const si = sentiments.indexOf(sentiment);
    if (si < bi) sentiments[si] = sentiment * 0.5;
    else if (si > bi) sentiments[si] = sentiment * 1.5;
  }
}

function punctuationEmphasis(text: string): number {
  const ep = Math.min(4, countChar(text, '!')) * 0.292;
  const qm = countChar(text, '?');
  const qmAmp = qm > 1 ? (qm <= 3 ? qm * 0.18 : 0.96) : 0;
  return ep + qmAmp;
}

function countChar(text: string, ch: string): number {
  let n = 0;
  for (let k = text.indexOf(ch); k >= 0; k = text.indexOf(ch, k + 1)) n++;
  return n;
}

function scoreValence(sentiments: number[], text: string): VaderScores {
  if (sentiments.length === 0) return { neg: 0, neu: 0, pos: 0, compound: 0 };
  let sum = 0;
  for (const s of sentiments) sum += s;
  const emphasis = punctuationEmphasis(text);
  if (sum > 0) sum += emphasis;
  else if (sum < 0) sum -= emphasis;
  const compound = normalizeVader(sum);
  let posSum = 0, negSum = 0, neuCount = 0;
  for (const s of sentiments) {
    // +1 / -1 compensate for neutral words counting 1 each.
    if (s > 0) posSum += s + 1;
    if (s < 0) negSum += s - 1;
    if (s === 0) neuCount += 1;
  }
  if (posSum > Math.abs(negSum)) posSum += emphasis;
  else if (posSum < Math.abs(negSum)) negSum -= emphasis;
  const total = posSum + Math.abs(negSum) + neuCount;
  return {
    neg: pyRound(Math.abs(negSum / total), 3),
    neu: pyRound(Math.abs(neuCount / total), 3),
    pos: pyRound(Math.abs(posSum / total), 3),
    compound: pyRound(compound, 4),
  };
}

const LEXICON_FILE = 'lexicons/vader/vader_lexicon.txt';
const EMOJI_FILE = 'lexicons/vader/emoji_utf8_lexicon.txt';

/** The `vader` scorer: score = compound in [-1, 1]; labels = {pos, neu, neg, compound}. */
export async function createVaderScorer(_arg: string | undefined, ctx: ScorerContext): Promise<Scorer> {
  const lexiconPath = datasetFile(ctx.dataDir, LEXICON_FILE);
  const emojiPath = datasetFile(ctx.dataDir, EMOJI_FILE);
  const lexiconBytes = fs.readFileSync(lexiconPath), emojiBytes = fs.readFileSync(emojiPath);
  const analyzer = new VaderAnalyzer(parseVaderLexicon(lexiconBytes.toString('utf8'), emojiBytes.toString('utf8'), { lexicon: lexiconPath, emoji: emojiPath }));
  const hash = crypto.createHash('sha256').update(lexiconBytes).update(emojiBytes).digest('hex');
  return {
    id: 'vader',
    version: `3.3.2-rules+lexicon-${hash.slice(0, 12)}`,
    kind: 'sentiment',
    description: 'VADER compound sentiment in [-1, 1] (our implementation of vaderSentiment 3.3.2 rules over the canonical lexicon)',
    async score(texts, opts): Promise<Outcome<ScoreValue>[]> {
      const out: Outcome<ScoreValue>[] = [];
      texts.forEach((text, k) => {
        try {
          const s = analyzer.polarityScores(text);
          out.push({ ok: true, value: { score: s.compound, labels: { pos: s.pos, neu: s.neu, neg: s.neg, compound: s.compound } } });
        } catch (e) {
          out.push({ ok: false, error: `vader: ${(e as Error).message}` });
        }
        if (opts?.onProgress && ((k + 1) % 1000 === 0 || k + 1 === texts.length)) opts.onProgress({ done: k + 1, total: texts.length });
      });
      return out;
    },
  };
}
