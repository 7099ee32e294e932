/** Both models answer the instruction as a user would send it (§4.3). */
export const ANSWER_PLACEHOLDERS = ["instruction"] as const;

export const ANSWER_PROMPT = `{instruction}`;
