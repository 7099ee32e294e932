/** Encode (§4.1, Fig. 7): seed instruction -> use case + skills. The method's only few-shot prompt. */
export const ENCODE_PLACEHOLDERS = ["instruction", "skillsMax"] as const;

export const ENCODE_PROMPT = `You analyse instructions that users give to an AI assistant. For the instruction below, name:
- "use_case": the kind of task it asks for, in a few words (for example "creative writing", "code generation", "financial advice").
- "skills": at most {skillsMax} skills an assistant needs to answer it well. Each skill is 2-3 words, names a domain of knowledge or an ability, is general enough to apply to other instructions, and does not contain the words "skill" or "knowledge".

Example 1
Instruction: Write a short bedtime story for a five-year-old about a turtle who is afraid of the dark.
{"use_case": "creative writing", "skills": ["storytelling", "child development"]}

Example 2
Instruction: My SQL query joining orders and customers takes minutes on a few million rows. How do I find out why, and how do I speed it up?
{"use_case": "technical troubleshooting", "skills": ["SQL", "query optimization", "database indexing"]}

Example 3
Instruction: Explain the difference between a Roth IRA and a traditional IRA to someone starting their first job.
{"use_case": "financial advice", "skills": ["personal finance", "retirement planning"]}

Now the instruction to analyse. Reply with JSON only, in the same form as the examples.
Instruction: {instruction}`;
