/** Why a role cannot be built (missing key, bad spec), said before any model is called. */
export class ModelConfigError extends Error {}
