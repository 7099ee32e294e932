/**
 * Hand a dead worker's workflows to the others. DBOS resumes a worker's workflows when it restarts under
 * the same id; a worker that will not come back keeps them (and their queue slots) until they are put
 * back on the queue, where any worker takes them. Their finished steps and journalled calls are kept.
 */
import { DBOSClient } from "@dbos-inc/dbos-sdk";
import { FLEET } from "./store.js";

export async function recoverWorker(url: string, workerId: string): Promise<string[]> {
  const client = await DBOSClient.create({ systemDatabaseUrl: url, applicationName: FLEET.app });
  try {
    const pending = await client.listWorkflows({
      executorId: workerId,
      status: "PENDING",
      loadInput: false,
      loadOutput: false,
    });
    const ids = pending.map((workflow) => workflow.workflowID);
    if (ids.length > 0) await client.resumeWorkflows(ids, { queueName: FLEET.queue });
    return ids;
  } finally {
    await client.destroy();
  }
}
