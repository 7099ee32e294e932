/**
 * The evaluation judge (§5.1, Fig. 12): the Vicuna pairwise protocol. Unlike the Contrastive Filtering
 * scorer, it asks for an explanation after the scores; the first line must hold the two scores alone.
 */
export const EVAL_JUDGE_PLACEHOLDERS = ["question", "answer1", "answer2"] as const;

export const EVAL_JUDGE_SYSTEM = "You are a helpful and precise assistant for checking the quality of answers.";

export const EVAL_JUDGE_PROMPT = `[Question]
{question}

[The Start of Assistant 1's Answer]
{answer1}
[The End of Assistant 1's Answer]

[The Start of Assistant 2's Answer]
{answer2}
[The End of Assistant 2's Answer]

[System]
We would like your feedback on the performance of two AI assistants in response to the user question shown above.
Rate the helpfulness, relevance, accuracy and level of detail of their responses. Each assistant receives an overall score on a scale of 1 to 10, where a higher score means better overall performance.
First output a single line containing only two values: the scores of Assistant 1 and Assistant 2, separated by a space. On the following lines, give a comprehensive explanation of your evaluation, avoiding any bias and making sure that the order in which the responses were presented does not affect your judgment.`;
