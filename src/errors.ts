/**
 * The base of the gateway's error classes. Each class names a stable `code` (as jose's errors do, e.g.
 * `ERR_TOKEN_INVALID`): callers branch on the class or its code, never on the message, which is for people and may
 * change. `name` is the class name.
 */
export abstract class GatewayError extends Error {
  /** The code every instance of the class carries; a subclass declares its own. */
  static readonly code: string;
  readonly code: string;

  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = (new.target as typeof GatewayError).code;
  }
}
