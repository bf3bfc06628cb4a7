// One error class per failure mode. The CLI prints `name: message` on one line and exits non-zero;
// messages name the offending value and, where there is one, the fix.

export class CompsafeError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A flag or argument value is invalid. */
export class UsageError extends CompsafeError {
  override readonly exitCode = 2;
}

/** A file is missing, unreadable, or not what it claims to be. */
export class FileFormatError extends CompsafeError {}

/** A safetensors file whose header or data is inconsistent. */
export class SafetensorsError extends FileFormatError {}

/** config.json names an architecture this engine does not implement. */
export class UnsupportedArchitectureError extends CompsafeError {}

/** config.json and the weight files disagree (missing tensor, wrong shape). */
export class ModelMismatchError extends CompsafeError {}

/** A download from the model hub failed, or the cache is incomplete while offline. */
export class HubError extends CompsafeError {}

/** A tokenizer file is missing or cannot be loaded. */
export class TokenizerError extends CompsafeError {}
