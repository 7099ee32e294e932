import { describe, expect, it } from "vitest";
import { EncodeOutputSchema } from "../../nodes/encode.js";
import { ENCODE_PLACEHOLDERS, ENCODE_PROMPT } from "../../prompts/encode.js";
import { promptOverrideProblems, renderPrompt } from "../../prompts/index.js";
import { RUBRIC_GENERATE_PLACEHOLDERS, RUBRIC_GENERATE_PROMPT } from "../../prompts/rubric-generate.js";
import { missingPlaceholders } from "../../prompts/template.js";

/** The few-shot examples' answers: every JSON line of the encode prompt. */
const examples = ENCODE_PROMPT.split("\n")
  .filter((line) => line.startsWith('{"use_case"'))
  .map((line) => EncodeOutputSchema.parse(JSON.parse(line)));

describe("encode prompt (§4.1, Fig. 7)", () => {
  it("has three examples, each of its own use case, the paper's three", () => {
    expect(examples).toHaveLength(3);
    const useCases = examples.map((example) => example.use_case);
    expect(new Set(useCases).size).toBe(3);
    expect(useCases.sort()).toEqual(["code generation", "creative writing", "general knowledge QA"]);
  });

  it("names coarse, transferable skills (Figure 7's granularity), never the words skill or knowledge", () => {
    const skills = examples.flatMap((example) => example.skills);
    for (const coarse of ["python", "sports", "academic writing"]) expect(skills).toContain(coarse);
    for (const skill of skills) {
      expect(skill.split(/\s+/).length).toBeLessThanOrEqual(2);
      expect(skill).not.toMatch(/skill|knowledge/i);
    }
    expect(new Set(skills).size).toBe(skills.length);
    for (const example of examples) expect(example.skills.length).toBeLessThanOrEqual(3);
  });

  it("keeps its placeholders, filled in", () => {
    expect(missingPlaceholders(ENCODE_PROMPT, ENCODE_PLACEHOLDERS)).toEqual([]);
    const prompt = renderPrompt("encode", {}, { instruction: "Plan a trip.", skillsMax: 3 });
    expect(prompt).toContain("at most 3 skills");
    expect(prompt.endsWith("Instruction: Plan a trip.")).toBe(true);
  });
});

describe("rubric-generate prompt (§4.2, Fig. 9)", () => {
  it("keeps rubrics, matching actions and the count, and asks for domain expertise and unambiguous rubrics", () => {
    expect(missingPlaceholders(RUBRIC_GENERATE_PROMPT, RUBRIC_GENERATE_PLACEHOLDERS)).toEqual([]);
    const prompt = renderPrompt("rubricGenerate", {}, { useCase: "poetry", skills: "rhyme, meter", count: 4 });
    expect(prompt).toContain("First write 4 rubrics");
    expect(prompt).toContain("Then write 4 actions, one for each rubric");
    expect(prompt).toMatch(/expert/i);
    expect(prompt).toMatch(/clear and unambiguous/i);
    expect(prompt).toMatch(/realistic/);
  });

  it("shows no single-domain demonstration that would anchor every domain's actions", () => {
    const withoutPlaceholders = RUBRIC_GENERATE_PROMPT.replace(/\{[A-Za-z]+\}/g, "");
    expect(withoutPlaceholders).not.toMatch(/for example|e\.g\.|such as|business|SWOT|competitor/i);
  });
});

describe("prompt overrides", () => {
  it("still name the placeholders an override drops", () => {
    expect(promptOverrideProblems({ encode: "Analyse this.", rubricGenerate: "{useCase} {skills}" })).toEqual([
      "prompts.encode lacks {instruction}, {skillsMax}",
      "prompts.rubricGenerate lacks {count}",
    ]);
    expect(promptOverrideProblems({ judge: "{instruction} {answer1} {answer2}" })).toEqual([]);
  });
});
