/**
 * The paper's headline result (Wang et al., NAACL 2024, Table 1, the CodecLM row): capacity recovery ratio
 * (CRR, %) of LLaMA-7B tuned on 2000 CodecLM pairs made with Gemini-Pro as the strong LLM, on each test
 * set's held-out 80% (the other 20% were the seeds), judged by ChatGPT against Gemini-Pro's answers.
 */
export const PAPER_SETUP = {
  source: "CodecLM (NAACL 2024), Table 1, CodecLM row",
  target: "LLaMA-7B",
  strong: "Gemini-Pro",
  judge: "ChatGPT",
  pairs: 2000,
  seedFraction: 0.2,
} as const;

/** CRR (%) of the CodecLM row of Table 1, by the name of the set shipped with codeclm. */
export const PAPER_TABLE1_CRR = {
  "evol-instruct": 79.82,
  vicuna: 88.75,
  koala: 74.44,
  "self-instruct": 78.17,
} as const satisfies Record<string, number>;

/** The paper's CRR (%) for a benchmark name, or undefined for a set it did not report. */
export const paperCrrFor = (benchmark: string): number | undefined =>
  Object.hasOwn(PAPER_TABLE1_CRR, benchmark) ? PAPER_TABLE1_CRR[benchmark as keyof typeof PAPER_TABLE1_CRR] : undefined;
