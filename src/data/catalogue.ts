// The datasets compsafe knows: where each lives inside the data directory (the datasets' canonical
// layout), its license, whether the reference copy is the whole dataset, and where `data fetch`
// downloads each file from. File hashes come from the manifest (generated from the reference copy);
// files of the full dataset that the reference copy lacks are listed as `extraFiles` (fetched
// without a reference hash).
import { MANIFEST } from './manifest.js';

export interface DatasetEntry {
  /** Name on the command line (`compsafe data fetch NAME`). */
  name: string;
  title: string;
  license: string;
  /** What the reference copy holds of the original dataset. */
  extent: 'complete' | 'subset' | 'excerpt';
  note?: string;
  /** Files (relative to the data directory) that `data verify` checks and `data list` counts. */
  files: string[];
  /** Files of the full dataset absent from the reference copy: fetchable, but without a reference hash. */
  extraFiles: string[];
  /** Canonical download URL per file; a file without one must be obtained by hand (see `manual`). */
  urls: Record<string, string>;
  /** How to obtain the files that have no URL (derived files, archives, papers' supplements). */
  manual?: string;
  /** Only for evaluation; never redistribute (e.g. tweets). */
  testUseOnly?: boolean;
}

const manifestFiles = Object.keys(MANIFEST);

/** Manifest files under any of the given prefixes (a prefix ending in '/' is a folder; otherwise one file). */
function under(...prefixes: string[]): string[] {
  return manifestFiles.filter((f) => prefixes.some((p) => (p.endsWith('/') ? f.startsWith(p) : f === p)));
}

const encodePath = (p: string): string => p.split('/').map(encodeURIComponent).join('/');

/**
 * URLs for files that sit in a GitHub repository: data-dir path `folder/rest` -> `repoPath(rest)` at
 * the default branch (HEAD) of `repo`. Files stored with Git LFS need `lfs` (served by media.githubusercontent.com).
 */
function github(repo: string, folder: string, files: string[], opts: { map?: (rest: string) => string; lfs?: string } = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of files) {
    const rest = f.slice(folder.length + 1);
    const repoPath = opts.map ? opts.map(rest) : rest;
    out[f] = opts.lfs
      ? `https://media.githubusercontent.com/media/${repo}/${opts.lfs}/${encodePath(repoPath)}`
      : `https://raw.githubusercontent.com/${repo}/HEAD/${encodePath(repoPath)}`;
  }
  return out;
}

function entry(e: Omit<DatasetEntry, 'extraFiles' | 'urls'> & { extraFiles?: string[]; urls?: Record<string, string> }): DatasetEntry {
  return { extraFiles: [], urls: {}, ...e };
}

const BBQ_MISSING = ['Gender_identity', 'Race_ethnicity', 'Race_x_SES', 'Race_x_gender', 'SES'].map((c) => `bbq/data/${c}.jsonl`);
const bbqFiles = under('bbq/data/', 'bbq/templates/', 'bbq/LICENSE', 'bbq/README.md');
const bbqExtra = [...BBQ_MISSING, 'bbq/supplemental/additional_metadata.csv'];

const boldFiles = under('bold/');
const holisticFiles = under('holistic_bias/');
const toxigenFiles = under('toxigen/');
const rtpSubset = under('realtoxicityprompts/decodingtrust_user_prompts/');
const rtpRepo = under('realtoxicityprompts/LICENSE', 'realtoxicityprompts/README.md');
const unqoverFiles = under('unqover/');
const truthfulFiles = under('truthfulqa/');
const aaveFiles = under('aave_corpora/');
const dialectPrejudiceFiles = under('dialect_prejudice/');
const vaderFiles = under('lexicons/vader/');
const ldnoobwFiles = under('lexicons/ldnoobw/');
const surgeFiles = under('lexicons/surge_ai_profanity/');
const selfInstructFiles = under('sft/self-instruct/');
const hhFiles = under('sft/hh-rlhf-harmless-base-test/');
const xstestFiles = under('xstest/');

export const DATASETS: readonly DatasetEntry[] = [
  entry({
    name: 'bbq', title: 'BBQ (Parrish et al. 2022)', license: 'CC BY 4.0', extent: 'subset',
    note: 'reference copy: 6 of 11 categories (Gender_identity, Race_ethnicity, Race_x_SES, Race_x_gender, SES and supplemental/additional_metadata.csv missing)',
    files: bbqFiles, extraFiles: bbqExtra, urls: github('nyu-mll/BBQ', 'bbq', [...bbqFiles, ...bbqExtra]),
  }),
  entry({
    name: 'bold', title: 'BOLD (Dhamala et al. 2021)', license: 'CC BY-SA 4.0', extent: 'complete',
    files: boldFiles, urls: github('amazon-science/bold', 'bold', boldFiles),
  }),
  entry({
    name: 'holistic_bias', title: 'HolisticBias (Smith et al. 2022)', license: 'CC BY-SA 4.0', extent: 'complete',
    note: 'source lists; HolisticBiasR is built from v1.1 noun phrases x the regard templates',
    files: holisticFiles,
    urls: github('facebookresearch/ResponsibleNLP', 'holistic_bias', holisticFiles, { map: (r) => (r === 'LICENSE' ? r : `holistic_bias/${r}`) }),
  }),
  entry({
    name: 'toxigen', title: 'ToxiGen prompts (Hartvigsen et al. 2022)', license: 'CDLA-Permissive-2.0', extent: 'complete',
    files: toxigenFiles, urls: github('microsoft/TOXIGEN', 'toxigen', toxigenFiles),
  }),
  entry({
    name: 'realtoxicityprompts', title: 'RealToxicityPrompts (Gehman et al. 2020)', license: 'Apache-2.0 (records); CC BY-SA 4.0 (DecodingTrust sample)',
    extent: 'subset', note: "DecodingTrust's 1,196 toxic + 1,200 non-toxic prompts; the full ~100k set is prompts.jsonl on the HF hub",
    files: [...rtpSubset, ...rtpRepo], extraFiles: ['realtoxicityprompts/prompts.jsonl'],
    urls: {
      ...github('AI-secure/DecodingTrust', 'realtoxicityprompts/decodingtrust_user_prompts', rtpSubset, { map: (r) => (r === 'LICENSE' ? r : `data/toxicity/user_prompts/${r}`) }),
      ...github('allenai/real-toxicity-prompts', 'realtoxicityprompts', rtpRepo),
      'realtoxicityprompts/prompts.jsonl': 'https://huggingface.co/datasets/allenai/real-toxicity-prompts/resolve/main/prompts.jsonl',
    },
  }),
  entry({
    name: 'unqover', title: 'UnQover word lists (Li et al. 2020)', license: 'Apache-2.0', extent: 'complete',
    note: 'the question sets are generated from these lists',
    files: unqoverFiles, urls: github('allenai/unqover', 'unqover', unqoverFiles),
  }),
  entry({
    name: 'truthfulqa', title: 'TruthfulQA (Lin et al. 2022)', license: 'Apache-2.0', extent: 'complete',
    files: truthfulFiles, urls: github('sylinrl/TruthfulQA', 'truthfulqa', truthfulFiles),
  }),
  entry({
    name: 'aae_sae', title: 'AAE/SAE pairs (Groenwold et al. 2020)', license: 'no license file; AAE side is tweets', extent: 'complete',
    testUseOnly: true,
    files: under('aae_sae/'),
    manual: 'the 2,019 AAE/SAE pairs are in the supplementary material of Groenwold et al. 2020 on the ACL Anthology ' +
      '(https://aclanthology.org/2020.emnlp-main.473/); write them as aae_sae/groenwold2020_pairs/dialect_pairs_groenwold.json, ' +
      'a JSON array of {"stimulus_id", "aae", "sae", "source"}; the SAE side alone is sae_samples.txt. Test use only: never redistribute the tweets',
  }),
  entry({
    name: 'aave_corpora', title: 'African-American English literature and speeches (aave_corpora)', license: 'MIT', extent: 'subset',
    note: 'literature (408 lines) and leadership speeches (19 lines); lyrics and tweets left out',
    files: aaveFiles, urls: github('jazmiahenry/aave_corpora', 'aave_corpora', aaveFiles),
  }),
  entry({
    name: 'dialect_prejudice', title: 'AAE/SAE feature pairs (Hofmann et al. 2024)', license: 'MIT', extent: 'complete',
    files: dialectPrejudiceFiles, urls: github('valentinhofmann/dialect-prejudice', 'dialect_prejudice', dialectPrejudiceFiles),
  }),
  entry({
    name: 'wikitext2', title: 'WikiText-2 raw test split', license: 'CC BY-SA 3.0', extent: 'complete',
    note: 'the rows of the test split of Salesforce/wikitext wikitext-2-raw-v1 (blank rows dropped, CRLF line ends): not the byte layout of the original wiki.test.raw',
    files: ['wikitext2/wiki.test.raw'],
    manual: 'the test split of wikitext-2-raw-v1 is a parquet file at https://huggingface.co/datasets/Salesforce/wikitext ' +
      '(wikitext-2-raw-v1/test-00000-of-00001.parquet); write its non-empty "text" rows, in order, each ending in CRLF, ' +
      'to wikitext2/wiki.test.raw (the reference copy\'s SHA-256 is in the manifest), or use any text file with --tasks text:FILE',
  }),
  entry({
    name: 'c4', title: 'C4 en sample (calibration)', license: 'ODC-BY 1.0', extent: 'subset',
    note: 'the first 1,000 documents of en/c4-train.00000-of-01024',
    files: ['c4/c4_sample.jsonl'],
    manual: 'take the first 1,000 lines of https://huggingface.co/datasets/allenai/c4/resolve/main/en/c4-train.00000-of-01024.json.gz ' +
      '(gunzipped) as c4/c4_sample.jsonl; its timestamps are re-serialised in the reference copy, so its hash will differ',
  }),
  entry({
    name: 'tinystories', title: 'TinyStories validation excerpt', license: 'CDLA-Sharing-1.0', extent: 'excerpt',
    note: '30 KB of TinyStories-valid.txt, in-domain text for the BabyLlama fixture',
    files: ['tinystories/TinyStories-valid-excerpt.txt'],
    manual: 'an excerpt of https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStories-valid.txt, saved as ' +
      'tinystories/TinyStories-valid-excerpt.txt (any excerpt works; only the reference copy matches the manifest)',
  }),
  entry({
    name: 'vader', title: 'VADER lexicon v3.3.2', license: 'MIT', extent: 'complete',
    files: vaderFiles,
    urls: github('cjhutto/vaderSentiment', 'lexicons/vader', vaderFiles, { map: (r) => (r === 'LICENSE.txt' ? r : `vaderSentiment/${r}`) }),
  }),
  entry({
    name: 'ldnoobw', title: 'List of Dirty, Naughty, Obscene and Otherwise Bad Words (en)', license: 'CC BY 4.0', extent: 'complete',
    files: ldnoobwFiles, urls: github('LDNOOBW/List-of-Dirty-Naughty-Obscene-and-Otherwise-Bad-Words', 'lexicons/ldnoobw', ldnoobwFiles),
  }),
  entry({
    name: 'rtp_naughty_words', title: 'RealToxicityPrompts bad-word list', license: 'Apache-2.0', extent: 'complete',
    files: under('lexicons/rtp_naughty_words/'),
    manual: 'copy list_of_naughty_and_bad_words.txt and LICENSE from the allenai/real-toxicity-prompts repository into lexicons/rtp_naughty_words/',
  }),
  entry({
    name: 'surge_ai_profanity', title: 'Surge AI profanity list', license: 'MIT', extent: 'complete',
    files: surgeFiles, urls: github('surge-ai/profanity', 'lexicons/surge_ai_profanity', surgeFiles),
  }),
  entry({
    name: 'self_instruct', title: 'self-instruct seed tasks + user-oriented instructions', license: 'Apache-2.0', extent: 'complete',
    files: selfInstructFiles,
    urls: github('yizhongw/self-instruct', 'sft/self-instruct', selfInstructFiles, {
      map: (r) => (r === 'seed_tasks.jsonl' ? 'data/seed_tasks.jsonl' : r === 'user_oriented_instructions.jsonl' ? 'human_eval/user_oriented_instructions.jsonl' : r),
    }),
  }),
  entry({
    name: 'dolly_open_qa', title: 'Dolly-15k open_qa rows (chinkara_open_qa)', license: 'CC BY-SA 3.0', extent: 'subset',
    files: under('sft/dolly-open_qa/'),
    manual: 'download the files of the MaralGPT/chinkara_open_qa dataset on the Hugging Face hub into sft/dolly-open_qa/',
  }),
  entry({
    name: 'hh_rlhf_harmless', title: 'Anthropic HH-RLHF harmless-base test split', license: 'MIT', extent: 'complete',
    files: hhFiles,
    urls: {
      ...github('anthropics/hh-rlhf', 'sft/hh-rlhf-harmless-base-test', hhFiles.filter((f) => f.endsWith('LICENSE'))),
      ...github('anthropics/hh-rlhf', 'sft/hh-rlhf-harmless-base-test', hhFiles.filter((f) => f.endsWith('.gz')), { map: (r) => `harmless-base/${r}`, lfs: 'master' }),
    },
  }),
  entry({
    name: 'xstest', title: 'XSTest over-refusal prompts', license: 'CC BY 4.0', extent: 'complete',
    files: xstestFiles, urls: github('paul-rottger/exaggerated-safety', 'xstest', xstestFiles),
  }),
  entry({
    name: 'mmlu', title: 'MMLU (Hendrycks et al. 2021)', license: 'MIT', extent: 'complete',
    files: under('mmlu/'),
    manual: 'extract data/{dev,val,test}/ of https://people.eecs.berkeley.edu/~hendrycks/data.tar into mmlu/data/',
  }),
  entry({
    name: 'boolq', title: 'BoolQ dev (Clark et al. 2019)', license: 'CC BY-SA 3.0', extent: 'complete',
    files: ['boolq/dev.jsonl'], urls: { 'boolq/dev.jsonl': 'https://storage.googleapis.com/boolq/dev.jsonl' },
  }),
  entry({
    name: 'rte', title: 'RTE dev (SuperGLUE packaging)', license: 'unclear', extent: 'complete',
    files: ['rte/val.jsonl'],
    manual: 'extract RTE/val.jsonl of https://dl.fbaipublicfiles.com/glue/superglue/data/v2/RTE.zip as rte/val.jsonl',
  }),
  entry({
    name: 'winogrande', title: 'WinoGrande 1.1 dev', license: 'CC-BY', extent: 'complete',
    files: under('winogrande/'),
    manual: 'extract dev.jsonl and dev-labels.lst of https://storage.googleapis.com/ai2-mosaic/public/winogrande/winogrande_1.1.zip into winogrande/winogrande_1.1/',
  }),
  entry({
    name: 'arc', title: 'ARC Easy + Challenge (Clark et al. 2018)', license: 'CC BY-SA 4.0', extent: 'complete',
    files: under('arc/'),
    manual: 'extract ARC-V1-Feb2018-2/ARC-{Easy,Challenge}/*-{Dev,Test}.jsonl of https://ai2-public-datasets.s3.amazonaws.com/arc/ARC-V1-Feb2018.zip into arc/',
  }),
  entry({
    name: 'openbookqa', title: 'OpenBookQA (Mihaylov et al. 2018)', license: 'Apache-2.0', extent: 'complete',
    files: under('openbookqa/'),
    manual: 'extract OpenBookQA-V1-Sep2018/Data/Main/{dev,test}.jsonl of https://ai2-public-datasets.s3.amazonaws.com/open-book-qa/OpenBookQA-V1-Sep2018.zip into openbookqa/Main/',
  }),
  entry({
    name: 'hellaswag', title: 'HellaSwag val (Zellers et al. 2019)', license: 'MIT', extent: 'complete',
    note: 'not in the reference copy (10,042 items, 12,246,618 bytes)',
    files: [], extraFiles: ['hellaswag/hellaswag_val.jsonl'],
    urls: { 'hellaswag/hellaswag_val.jsonl': 'https://raw.githubusercontent.com/rowanz/hellaswag/master/data/hellaswag_val.jsonl' },
  }),
];

export function datasetNames(): string[] {
  return DATASETS.map((d) => d.name);
}

export function datasetByName(name: string): DatasetEntry | undefined {
  return DATASETS.find((d) => d.name === name);
}

/** The dataset a data-directory path belongs to (by its files, else by its top folder). */
export function datasetOfFile(relPath: string): DatasetEntry | undefined {
  const exact = DATASETS.find((d) => d.files.includes(relPath) || d.extraFiles.includes(relPath));
  if (exact) return exact;
  const top = relPath.split('/').slice(0, 2).join('/');
  return DATASETS.find((d) => [...d.files, ...d.extraFiles].some((f) => f.startsWith(`${top}/`)))
    ?? DATASETS.find((d) => [...d.files, ...d.extraFiles].some((f) => f.split('/')[0] === relPath.split('/')[0]));
}

/** Every file of a dataset: the reference copy's and the extras. */
export function allFiles(d: DatasetEntry): string[] {
  return [...d.files, ...d.extraFiles];
}

/** One sentence telling the user how to put the dataset into the data directory. */
export function howToGet(d: DatasetEntry): string {
  const fetchable = allFiles(d).filter((f) => d.urls[f] !== undefined).length;
  const dirHint = 'point --data-dir (or COMPSAFE_DATA_DIR) at a folder that holds it';
  if (fetchable > 0 && !d.manual) return `run \`compsafe data fetch ${d.name}\` (downloads from the canonical source), or ${dirHint}`;
  if (fetchable > 0) return `run \`compsafe data fetch ${d.name}\` for the downloadable files; for the rest: ${d.manual}; or ${dirHint}`;
  return `it cannot be downloaded automatically: ${d.manual ?? 'obtain it from its source'}; or ${dirHint}`;
}
