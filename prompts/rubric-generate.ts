/**
 * Self-Rubrics (§4.2, Fig. 9): rubrics for judging complexity, and actions that raise it, per metadata.
 * No worked example: one from a single domain (say, a business plan) pulls every domain's actions toward it.
 */
export const RUBRIC_GENERATE_PLACEHOLDERS = ["useCase", "skills", "count"] as const;

export const RUBRIC_GENERATE_PROMPT = `We want to make instructions for an AI assistant more challenging, so that answering them well takes more expertise.
The instructions have this use case: {useCase}
and need these skills: {skills}

Think as an expert in this use case and these skills would: what separates a demanding instruction of this kind from an easy one?
First write {count} rubrics: specific criteria for judging how complex or demanding an instruction of this use case and these skills is. Each rubric is clear and unambiguous, so that two experts applying it to the same instruction would agree, and is specific to this domain rather than true of any instruction.
Then write {count} actions, one for each rubric: concrete changes that make an instruction harder along that rubric, drawn from the practice of this domain.
Actions must keep the instruction realistic, self-consistent and answerable.

Reply with JSON: {"rubrics": ["..."], "actions": ["..."]} with exactly {count} of each.`;
