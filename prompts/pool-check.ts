/** Plausibility check of mixed-and-matched metadata (App. A.3 did this by hand; ours is automatic). */
export const POOL_CHECK_PLACEHOLDERS = ["candidates"] as const;

export const POOL_CHECK_PROMPT = `Each numbered line below pairs a use case with skills. They were combined at random to create instructions for training an AI assistant. For each line, decide whether a realistic user request could be of that use case and need all of those skills together. Reject pairs that contradict themselves or could only be satisfied by a contrived, nonsensical request.

{candidates}

Reply with JSON: {"verdicts": [{"index": <the line's number as written, an integer from 1>, "plausible": true or false, "reason": "<a few words>"}]}, exactly one verdict for every numbered line, in order.`;
