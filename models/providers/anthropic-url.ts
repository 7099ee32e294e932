/** Anthropic's API root; kept apart from anthropic.ts so knowing it does not import @langchain/anthropic. */
export const ANTHROPIC_API_URL = "https://api.anthropic.com";
