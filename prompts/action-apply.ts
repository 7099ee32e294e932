/** Improve an instruction with one sampled action (§4.2, Fig. 10). */
export const ACTION_APPLY_PLACEHOLDERS = ["useCase", "skills", "instruction", "action"] as const;

export const ACTION_APPLY_PROMPT = `Rewrite an instruction for an AI assistant to make it more challenging.
Use case: {useCase}
Skills: {skills}
Instruction: {instruction}

Apply this action to it: {action}

The new instruction must stay realistic, self-consistent and answerable, keep the use case and skills, and include any text, data or code it refers to. Do not copy the wording of the action into it, and do not answer it.

Reply with JSON: {"instruction": "<the rewritten instruction>"}`;
