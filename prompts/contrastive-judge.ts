/** Contrastive Filtering scorer (§4.3, Fig. 11): a Vicuna-style pairwise prompt without the explanation. */
export const JUDGE_PLACEHOLDERS = ["instruction", "answer1", "answer2"] as const;

export const JUDGE_PROMPT = `You are a fair judge of the answers two AI assistants gave to a user's instruction.

[Instruction]
{instruction}

[The Start of Assistant 1's Answer]
{answer1}
[The End of Assistant 1's Answer]

[The Start of Assistant 2's Answer]
{answer2}
[The End of Assistant 2's Answer]

Rate the helpfulness, relevance, accuracy and level of detail of each answer. Give each assistant an overall score from 1 to 10, higher being better. Judge the content only: the order in which the answers appear and their length must not sway you.

Reply with JSON only: {"assistant1": <score>, "assistant2": <score>}`;
