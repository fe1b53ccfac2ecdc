// Session state: sign in with an access token (cookie session), CSRF token in memory, sign out.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { ApiError, api, onUnauthorized, setCsrfToken } from "./api/client";
import type { Session } from "./api/types";

interface SessionCtx {
  session: Session | null;
  checking: boolean;
  signIn: (token: string) => Promise<void>;
  signOut: () => Promise<void>;
  canEdit: boolean;
  isAdmin: boolean;
}

const Ctx = createContext<SessionCtx | null>(null);

// The session cookie is HttpOnly, so the page cannot see it. This flag remembers that a sign-in
// happened in this browser, so a fresh visit shows the sign-in page without first asking the
// server (whose 401 the browser would log as a console error). A stale flag costs one 401.
const SIGNED_IN_HINT = "flowgate.signed-in";
function hint(set?: boolean): boolean {
  try {
    if (set === true) localStorage.setItem(SIGNED_IN_HINT, "1");
    else if (set === false) localStorage.removeItem(SIGNED_IN_HINT);
    return localStorage.getItem(SIGNED_IN_HINT) === "1";
  } catch {
    return true; // storage disabled: always ask the server
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(true);

  const apply = useCallback((s: Session | null) => {
    setCsrfToken(s?.csrf_token ?? null);
    hint(!!s);
    setSession(s);
  }, []);

  useEffect(() => {
    onUnauthorized(() => apply(null));
    if (!hint()) {
      setChecking(false);
      return () => onUnauthorized(null);
    }
    api
      .get<Session>("/api/v1/session", { quiet401: true })
      .then((s) => apply(s))
      .catch((e) => {
        if (!(e instanceof ApiError) || e.status !== 401) console.warn("session check failed", e);
        apply(null);
      })
      .finally(() => setChecking(false));
    return () => onUnauthorized(null);
  }, [apply]);

  const signIn = useCallback(
    async (token: string) => {
      const s = await api.post<Session>("/api/v1/session", { token }, { quiet401: true });
      apply(s);
    },
    [apply],
  );

  const signOut = useCallback(async () => {
    try {
      await api.del("/api/v1/session");
    } finally {
      apply(null);
    }
  }, [apply]);

  const role = session?.role ?? "viewer";
  return (
    <Ctx.Provider value={{ session, checking, signIn, signOut, canEdit: role === "admin" || role === "editor", isAdmin: role === "admin" }}>
      {children}
    </Ctx.Provider>
  );
}

export function useSession(): SessionCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error("useSession outside SessionProvider");
  return c;
}
