// Errors as OpenAI returns them: an HTTP status and `{error: {message, type, param, code}}`. Every
// request failure becomes one of these; nothing a client sends can crash the server.
import { ZodError, ZodIssue } from 'zod';

export interface ApiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** `messages[0].content` from a zod path. */
export function paramName(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function describe(issue: ZodIssue, accepted: readonly string[]): { param: string; message: string } {
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((k) => paramName([...issue.path, k]));
    const list = issue.path.length === 0 && accepted.length > 0 ? `; accepted fields: ${accepted.join(', ')}` : '';
    return { param: names[0], message: `unknown field${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')}${list}` };
  }
  const param = paramName(issue.path);
  return { param, message: `${param || 'body'}: ${issue.message}` };
}

/**
 * A 400 naming the offending fields. Unknown fields come first: they are the likeliest mistake (a
 * parameter this server does not implement), and the message lists the accepted ones.
 */
export function fromZodError(error: ZodError, accepted: readonly string[] = []): ApiError {
  const issues = [...error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  const described = issues.slice(0, 3).map((issue) => describe(issue, accepted));
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return new ApiError(400, described.map((d) => d.message).join('; ') + more, described[0]?.param || null, 'invalid_value');
}

/** Anything thrown while handling a request, as an ApiError: input errors of the engine are 400s, the rest 500s. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ZodError) return fromZodError(error);
  const err = error instanceof Error ? error : new Error(String(error));
  const message = err.message.split('\n')[0];
  // UsageError, TokenizerError (e.g. a chat template refusing the conversation), RangeError of the engine's input checks.
  if (['UsageError', 'TokenizerError', 'RangeError'].includes(err.name)) return new ApiError(400, message, null, 'invalid_value');
  return new ApiError(500, `internal error: ${message}`, null, 'internal_error');
}
