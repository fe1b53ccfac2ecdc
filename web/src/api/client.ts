// Minimal fetch wrapper for the Flowgate API: session cookie, CSRF header and error parsing.
import type { ErrorDetail } from "./types";

export class ApiError extends Error {
  status: number;
  code: string;
  details: ErrorDetail[];
  constructor(status: number, code: string, message: string, details: ErrorDetail[] = []) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let csrfToken: string | null = null;
let unauthorizedHandler: (() => void) | null = null;

export function setCsrfToken(token: string | null) {
  csrfToken = token;
}

/** Called when any API call answers 401 (the session expired or was revoked). */
export function onUnauthorized(handler: (() => void) | null) {
  unauthorizedHandler = handler;
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function friendlyStatus(status: number): string {
  switch (status) {
    case 400: return "The request was not understood.";
    case 401: return "You are not signed in.";
    case 403: return "You do not have permission to do that.";
    case 404: return "Not found.";
    case 409: return "Conflict with the current state.";
    case 413: return "The request is too large.";
    case 422: return "Validation failed.";
    case 429: return "Too many requests; try again shortly.";
    default: return status >= 500 ? "The server had a problem. Try again." : `Request failed (${status}).`;
  }
}

export async function request<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: { quiet401?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (MUTATING.has(method) && csrfToken) headers["x-csrf-token"] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "Cannot reach the Flowgate server. Check your connection.");
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let data: any = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const err = data && typeof data === "object" ? data.error : undefined;
    const message =
      err && typeof err.message === "string" && err.message ? err.message : friendlyStatus(res.status);
    const details: ErrorDetail[] = Array.isArray(err?.details)
      ? err.details
          .filter((d: any) => d && typeof d === "object")
          .map((d: any) => ({ path: String(d.path ?? ""), message: String(d.message ?? "") }))
      : [];
    if (res.status === 401 && !opts.quiet401 && unauthorizedHandler) unauthorizedHandler();
    throw new ApiError(res.status, String(err?.code ?? `http_${res.status}`), message, details);
  }
  return data as T;
}

export const api = {
  get: <T>(path: string, opts?: { quiet401?: boolean }) => request<T>("GET", path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: { quiet401?: boolean }) =>
    request<T>("POST", path, body ?? {}, opts),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, body),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, body),
  del: <T>(path: string) => request<T>("DELETE", path),
};

/** Builds a query string, skipping empty values. */
export function qs(params: Record<string, string | number | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return "Something went wrong.";
}
