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

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(true);

  const apply = useCallback((s: Session | null) => {
    setCsrfToken(s?.csrf_token ?? null);
    setSession(s);
  }, []);

  useEffect(() => {
    onUnauthorized(() => apply(null));
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
