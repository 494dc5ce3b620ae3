// The renderer's one error type: a failed call or connection, with the engine's / host's code when there is one.
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
