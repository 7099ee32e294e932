/** Self-Rubrics (§4.2, Fig. 9): rubrics for judging complexity, and actions that raise it, per metadata. */
export const RUBRIC_GENERATE_PLACEHOLDERS = ["useCase", "skills", "count"] as const;

export const RUBRIC_GENERATE_PROMPT = `We want to make instructions for an AI assistant more challenging, so that answering them well takes more expertise.
The instructions have this use case: {useCase}
and need these skills: {skills}

First write {count} rubrics: specific criteria for judging how complex or demanding an instruction of this use case and these skills is.
Then write {count} actions, one for each rubric: concrete changes that make an instruction harder along that rubric (for a business plan, for example, "require a SWOT analysis of two competitors").
Actions must keep the instruction realistic and answerable.

Reply with JSON: {"rubrics": ["..."], "actions": ["..."]} with exactly {count} of each.`;
