/** A bench process set up as the CLI sets itself up (cli/main.ts), so its figures are the CLI's. */
import { setMaxListeners } from "node:events";
import { z } from "zod";
import { boundHeapGrowth } from "../cli/heap.js";

/** No listener cap on the many abort signals, the heap's growth bounded, no zod JIT for throwaway schemas. */
export async function setUpLikeTheCli(): Promise<void> {
  setMaxListeners(Number.POSITIVE_INFINITY);
  await boundHeapGrowth();
  z.config({ jitless: true });
}
