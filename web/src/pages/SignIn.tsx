// Sign-in page: exchanges an access token for a session cookie.
import { useState } from "react";
import { ApiError } from "../api/client";
import { useSession } from "../session";

export function SignInPage() {
  const { signIn } = useSession();
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <div className="signin">
      <form
        className="card signin-card"
        data-testid="signin-form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!token.trim()) return setError("Paste an access token.");
          setBusy(true);
          setError("");
          try {
            await signIn(token.trim());
          } catch (err) {
            setError(
              err instanceof ApiError && err.status === 401
                ? "That token was not accepted. Check it and try again."
                : err instanceof Error
                  ? err.message
                  : "Sign-in failed.",
            );
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>
          <span className="brand-mark" aria-hidden>◆</span> Flowgate
        </h1>
        <p className="muted">Sign in with an access token of your organization.</p>
        <label className="field-label" htmlFor="token">
          Access token
        </label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          autoFocus
          data-testid="signin-token"
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
        {error && (
          <div className="field-error" role="alert" data-testid="signin-error">
            {error}
          </div>
        )}
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="signin-submit">
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted small">
          The bootstrap admin token is printed by <code>flowgate serve</code> on first start, or set with
          FLOWGATE_ADMIN_TOKEN.
        </p>
      </form>
    </div>
  );
}
