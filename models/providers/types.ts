import type { BaseChatModel } from "@langchain/core/language_models/chat_models";

/** What the factory resolved for one role's client: never read from the environment here. */
export interface ClientSettings {
  model: string;
  temperature: number;
  maxTokens: number;
  /** Retries inside the provider SDK (0: models/call.ts retries, counted). */
  maxRetries: number;
  apiKey?: string;
  baseUrl?: string;
  /** The client's fetch: `leanFetch` (models/http.ts), or the batch transport's (models/batch/scope.ts) with `batch`. */
  fetch?: typeof fetch;
}

export type ChatModelBuilder = (settings: ClientSettings) => BaseChatModel;

/** A provider's package is not installed: names it and how to install it. */
export class MissingProviderPackageError extends Error {
  constructor(
    readonly provider: string,
    readonly packageName: string,
  ) {
    super(`the ${provider} provider needs the package ${packageName}: install it with \`npm install ${packageName}\``);
  }
}
