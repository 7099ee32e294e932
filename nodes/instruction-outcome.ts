import type { InstructionState } from "./state.js";
import type { InstructionOutcome } from "../lib/tasks.js";
import type { PipelineStep } from "../lib/records.js";

/** The version of the instruction being filtered now: the basic one until an action rewrote it. */
export const currentInstruction = (state: InstructionState): string => state.instruction || state.task.basicInstruction;

/** The outcome of an instruction whose model call failed for good at `step`. */
export function failedOutcome(state: InstructionState, step: PipelineStep | string, error: string): InstructionOutcome {
  return {
    task: state.task,
    status: "failed",
    instruction: currentInstruction(state),
    actions: state.actions,
    history: state.history,
    failure: { step, error },
  };
}
