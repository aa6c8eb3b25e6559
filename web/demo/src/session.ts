import type { DevToken } from "@folio/client";

const KEY = "folio.session";

/** The signed-in dev user, kept for this browser tab (sessionStorage). */
export function loadSession(): DevToken | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as DevToken | null;
    if (s && Date.parse(s.expires_at) > Date.now() + 60_000) return s;
  } catch {
    // a damaged entry: sign in again
  }
  return null;
}

export function saveSession(s: DevToken | null): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}
