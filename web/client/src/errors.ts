import type { Problem } from "./types.js";

/**
 * An error from Folio: the API's problem+json (status, stable code, detail
 * for people), or a network failure (status 0, code "network_error").
 */
export class FolioError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  /** Seconds to wait before retrying, from Retry-After (429, 503). */
  readonly retryAfter?: number;
  /** page_not_rendered: why the page has no image (page_too_large, time_limit, memory_limit, render_failed). */
  readonly reason?: string;

  constructor(status: number, code: string, detail: string, retryAfter?: number, reason?: string) {
    super(detail || code);
    this.name = "FolioError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
    if (reason !== undefined) this.reason = reason;
  }

  /** Builds the error from a response's status, body text and Retry-After. */
  static fromResponse(status: number, body: string, retryAfter: string | null): FolioError {
    const wait = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
    try {
      const p = JSON.parse(body) as Partial<Problem>;
      if (typeof p.code === "string") {
        return new FolioError(status, p.code, p.detail ?? p.title ?? "", wait, p.reason);
      }
    } catch {
      // not a problem document (a proxy's error page): fall through
    }
    return new FolioError(status, `http_${status}`, `The server answered ${status}.`, wait);
  }

  static network(detail = "Could not reach the server."): FolioError {
    return new FolioError(0, "network_error", detail);
  }
}

/** Whether retrying cannot help: the request itself is refused. */
export function isPermanent(err: unknown): boolean {
  return err instanceof FolioError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
}
