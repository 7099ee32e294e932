/** The local provider's error type, apart from node-llama-cpp so that the CLI can tell it without loading it. */
export type LocalModelErrorCode =
  /** The file is not a loadable GGUF (bad magic/version, missing keys, truncated, unsupported architecture...). */
  | "invalid-gguf"
  /** The path does not exist or is not a readable file. */
  | "not-found"
  /** A download failed for a reason other than the network being unreachable. */
  | "download-failed"
  /** The network (or the model host) is unreachable and no cached copy exists. */
  | "offline"
  /** node-llama-cpp could not load the model or create a context. */
  | "load-failed"
  /** Structured output was still malformed after the bounded retries. */
  | "malformed-output";

/** The one error type of the local provider: `code` says what kind of failure, `file` which file (if any). */
export class LocalModelError extends Error {
  override readonly name: string = "LocalModelError";
  readonly code: LocalModelErrorCode;
  readonly file: string | undefined;
  constructor(message: string, options: { code: LocalModelErrorCode; file?: string; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.file = options.file;
  }
}
