/**
 * Encode (§4.1, Fig. 7): seed instruction -> use case + skills. The method's only few-shot prompt.
 * The three examples follow the paper's granularity: broad use cases, none repeated, and coarse skills that
 * transfer to many instructions ("python", "sports", "academic writing"), not the instruction's narrow topic.
 */
export const ENCODE_PLACEHOLDERS = ["instruction", "skillsMax"] as const;

export const ENCODE_PROMPT = `You analyse instructions that users give to an AI assistant. For the instruction below, name:
- "use_case": the kind of task it asks for, in a few words (for example "creative writing", "code generation", "general knowledge QA").
- "skills": at most {skillsMax} skills an assistant needs to answer it well. Each skill is one to three words and names a broad field of knowledge or an ability that many other instructions also need (such as "python", "sports" or "academic writing"), not the narrow topic of this instruction. Skills never contain the words "skill" or "knowledge".

Example 1
Instruction: Pretend you are a radio commentator and describe the last minute of a tied football match as the home team scores.
{"use_case": "creative writing", "skills": ["role-play", "sports"]}

Example 2
Instruction: My script runs out of memory when it loads a 3 GB CSV file. How can I process the file in Python a piece at a time?
{"use_case": "code generation", "skills": ["python"]}

Example 3
Instruction: Here is the experiments section of my paper on image classification. Rewrite it so that another group could reproduce the training setup from it.
{"use_case": "general knowledge QA", "skills": ["academic writing", "machine learning"]}

Now the instruction to analyse. Reply with JSON only, in the same form as the examples.
Instruction: {instruction}`;
