/** Decode (§4.1, Fig. 8): metadata -> basic instructions. No demonstrations, as in the paper. */
export const DECODE_PLACEHOLDERS = ["useCase", "skills", "count"] as const;

export const DECODE_PROMPT = `Write {count} diverse instructions that a user might give to an AI assistant.
Constraints:
- Use case: {useCase}
- Skills the instructions must require: {skills}

Each instruction must be self-contained (include any text, data or code it refers to), realistic, and answerable by a capable assistant. Vary their topics, phrasing and length. Write only the instructions; do not answer them.{avoid}

Reply with JSON: {"instructions": ["...", "..."]} holding exactly {count} instructions.`;

/** Appended for top-up rounds so that new instructions do not repeat earlier ones. */
export const DECODE_AVOID_PREFIX = "\n\nThey must differ from these instructions, written earlier:\n";
