/**
 * Self-Instruct-style generation (the `no-metadata` row of Table 3): new instructions from seed examples,
 * with no metadata, rubrics or filtering.
 */
export const SELF_INSTRUCT_PLACEHOLDERS = ["examples", "count"] as const;

export const SELF_INSTRUCT_PROMPT = `Here are examples of instructions that users give to an AI assistant:

{examples}

Write {count} new instructions of the same kind. Vary the tasks, topics, phrasing and length; do not copy the examples. Each instruction must be self-contained (include any text, data or code it refers to), realistic, and answerable by a capable assistant. Write only the instructions; do not answer them.

Reply with JSON: {"instructions": ["...", "..."]} holding exactly {count} instructions.`;
