// Integrations page: list/delete, add Spot (shows its accounts once verified), add Slack
// (Add to Slack via OAuth, or paste bot token + signing secret), add HTTP.
import { useState } from "react";
import { api, enc, errorMessage } from "../api/client";
import type { Integration, Page } from "../api/types";
import { ConfirmButton, EmptyState, ErrorBanner, Loading, Tabs } from "../components/ui";
import { invalidate, useAsync } from "../lib/hooks";
import { useRoute } from "../lib/router";
import { useSession } from "../session";

type Kind = "spot" | "slack" | "http";
const TYPE_LABEL: Record<string, string> = { spot: "Spot by NetApp", slack: "Slack", http: "HTTP" };

export function IntegrationsPage() {
  const { isAdmin, canEdit } = useSession();
  const manage = isAdmin || canEdit;
  const list = useAsync(() => api.get<Page<Integration>>("/api/v1/integrations"), []);
  const [adding, setAdding] = useState<Kind | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  // After Slack's OAuth flow the server may send the browser back to #/integrations?installed=<alias> or ?error=<message>.
  const route = useRoute();
  const installed = route.query.get("installed");
  const oauthError = route.query.get("error");
  const refresh = async () => {
    invalidate("integrations");
    invalidate("accounts:");
    invalidate("channels:");
    await list.reload();
  };
  return (
    <div className="page" data-testid="integrations-page">
      <div className="page-head">
        <h1>Integrations</h1>
        {manage && (
          <div className="row-actions">
            <button className="btn" onClick={() => setAdding("spot")} data-testid="add-spot">
              + Spot
            </button>
            <button className="btn" onClick={() => setAdding("slack")} data-testid="add-slack">
              + Slack
            </button>
            <button className="btn" onClick={() => setAdding("http")} data-testid="add-http">
              + HTTP
            </button>
          </div>
        )}
      </div>
      {installed && (
        <div className="banner banner-info" data-testid="slack-installed">
          Slack integration “{installed}” was added.
        </div>
      )}
      {oauthError && (
        <div className="banner banner-error" role="alert">
          Slack installation did not complete: {oauthError}
        </div>
      )}
      {adding && (
        <div className="card" data-testid={`add-${adding}-form`}>
          {adding === "spot" && <SpotForm onDone={refresh} onClose={() => setAdding(null)} />}
          {adding === "slack" && <SlackForm onDone={refresh} onClose={() => setAdding(null)} />}
          {adding === "http" && <HttpForm onDone={refresh} onClose={() => setAdding(null)} />}
        </div>
      )}
      <ErrorBanner error={actionError} />
      {list.error ? (
        <ErrorBanner error={list.error} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading />
      ) : list.data.items.length === 0 ? (
        <EmptyState title="No integrations yet" testId="integrations-empty">
          Connect Spot by NetApp to act on Elastigroups, and Slack to notify people and ask for approvals.
        </EmptyState>
      ) : (
        <table className="table" data-testid="integrations-table">
          <thead>
            <tr>
              <th>Alias</th>
              <th>Type</th>
              <th>Settings</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((i) => (
              <tr key={i.alias} data-testid={`integration-row-${i.alias}`}>
                <td className="strong">{i.alias}</td>
                <td>{TYPE_LABEL[i.type] ?? i.type}</td>
                <td className="muted small">
                  {Object.entries(i.config ?? {})
                    .filter(([, v]) => v !== null && v !== "" && typeof v !== "object")
                    .map(([k, v]) => `${k}: ${String(v)}`)
                    .join(" · ") || "defaults"}
                </td>
                <td className="actions">
                  {manage && (
                    <ConfirmButton
                      label="Delete"
                      testId={`delete-integration-${i.alias}`}
                      onConfirm={async () => {
                        setActionError(null);
                        try {
                          await api.del(`/api/v1/integrations/${enc(i.alias)}`);
                          await refresh();
                        } catch (e) {
                          setActionError(e);
                        }
                      }}
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function Text({ id, label, value, onChange, type = "text", placeholder, help }: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  type?: string;
  placeholder?: string;
  help?: string;
}) {
  return (
    <div className="field">
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      <input id={id} type={type} value={value} placeholder={placeholder} autoComplete="off" onChange={(e) => onChange(e.target.value)} data-testid={id} />
      {help && <div className="field-help">{help}</div>}
    </div>
  );
}

function FormFoot({ busy, label, onClose, err }: { busy: boolean; label: string; onClose: () => void; err: string }) {
  return (
    <>
      {err && (
        <div className="field-error" role="alert" data-testid="integration-error">
          {err}
        </div>
      )}
      <div className="row-actions">
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="integration-submit">
          {busy ? "Working…" : label}
        </button>
        <button className="btn btn-ghost" type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </>
  );
}

const clean = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v.trim() !== ""));

function SpotForm({ onDone, onClose }: { onDone: () => Promise<void>; onClose: () => void }) {
  const [alias, setAlias] = useState("");
  const [token, setToken] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [account, setAccount] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState("");
  const [accounts, setAccounts] = useState<{ accountId: string; name?: string }[] | null>(null);
  const [verifyErr, setVerifyErr] = useState("");
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        if (!alias.trim() || !token.trim()) return setErr("Alias and token are required.");
        setBusy(true);
        setErr("");
        setVerifyErr("");
        try {
          await api.post("/api/v1/integrations", {
            type: "spot",
            alias: alias.trim(),
            config: clean({ base_url: baseUrl, default_account_id: account }),
            secrets: { token: token.trim() },
          });
          await onDone();
          try {
            const r = await api.get<{ items: { accountId: string; name?: string }[] }>(
              `/api/v1/integrations/${enc(alias.trim())}/accounts`,
            );
            setAccounts(r.items);
          } catch (ve) {
            setVerifyErr(errorMessage(ve));
          }
        } catch (ce) {
          setErr(errorMessage(ce));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Add a Spot by NetApp authorization</h2>
      {accounts ? (
        <div data-testid="spot-verified">
          <div className="banner banner-info">Verified. The token sees {accounts.length} account{accounts.length === 1 ? "" : "s"}:</div>
          <ul className="accounts" data-testid="spot-accounts">
            {accounts.map((a) => (
              <li key={a.accountId}>
                <strong>{a.name ?? a.accountId}</strong> <code className="small">{a.accountId}</code>
              </li>
            ))}
          </ul>
          <button className="btn" type="button" onClick={onClose} data-testid="integration-done">
            Done
          </button>
        </div>
      ) : (
        <>
          <Text id="spot-alias" label="Alias" value={alias} onChange={setAlias} placeholder="spot-prod" help="The name workflows use to refer to it." />
          <Text id="spot-token" label="Programmatic access token" type="password" value={token} onChange={setToken} />
          <Text id="spot-account" label="Default account id (optional)" value={account} onChange={setAccount} placeholder="act-…" />
          <Text id="spot-base-url" label="API base URL (optional)" value={baseUrl} onChange={setBaseUrl} placeholder="https://api.spotinst.io" />
          {verifyErr && (
            <div className="banner banner-warn" data-testid="spot-verify-error">
              Saved, but the accounts could not be listed: {verifyErr}
            </div>
          )}
          <FormFoot busy={busy} label="Add and verify" onClose={onClose} err={err} />
        </>
      )}
    </form>
  );
}

function SlackForm({ onDone, onClose }: { onDone: () => Promise<void>; onClose: () => void }) {
  const [mode, setMode] = useState<"oauth" | "paste">("oauth");
  const [alias, setAlias] = useState("");
  const [botToken, setBotToken] = useState("");
  const [secret, setSecret] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState("");
  const [done, setDone] = useState(false);
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        if (!alias.trim()) return setErr("An alias is required.");
        setBusy(true);
        setErr("");
        try {
          if (mode === "oauth") {
            const r = await api.post<{ authorize_url: string }>("/api/v1/integrations/slack/install", { alias: alias.trim() });
            window.location.assign(r.authorize_url);
            return;
          }
          if (!botToken.trim() || !secret.trim()) {
            setErr("Paste both the bot token and the signing secret.");
            return;
          }
          await api.post("/api/v1/integrations", {
            type: "slack",
            alias: alias.trim(),
            config: clean({ base_url: baseUrl }),
            secrets: { bot_token: botToken.trim(), signing_secret: secret.trim() },
          });
          await onDone();
          setDone(true);
        } catch (ce) {
          setErr(errorMessage(ce));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Add Slack</h2>
      <Tabs
        tabs={[
          { id: "oauth", label: "Add to Slack" },
          { id: "paste", label: "Paste a bot token" },
        ]}
        active={mode}
        onChange={setMode}
        testIdPrefix="slack-mode"
      />
      {done ? (
        <div className="banner banner-info" data-testid="slack-added">
          Slack integration “{alias}” added.
        </div>
      ) : null}
      <Text id="slack-alias" label="Alias" value={alias} onChange={setAlias} placeholder="ops-slack" />
      {mode === "oauth" ? (
        <p className="muted small">You will be sent to Slack to approve the app, then back here.</p>
      ) : (
        <>
          <Text id="slack-bot-token" label="Bot token" type="password" value={botToken} onChange={setBotToken} placeholder="xoxb-…" />
          <Text id="slack-signing-secret" label="Signing secret" type="password" value={secret} onChange={setSecret} />
          <Text id="slack-base-url" label="API base URL (optional)" value={baseUrl} onChange={setBaseUrl} placeholder="https://slack.com/api" />
        </>
      )}
      <FormFoot busy={busy} label={mode === "oauth" ? "Add to Slack" : "Add"} onClose={onClose} err={err} />
    </form>
  );
}

function HttpForm({ onDone, onClose }: { onDone: () => Promise<void>; onClose: () => void }) {
  const [alias, setAlias] = useState("");
  const [auth, setAuth] = useState<"bearer" | "basic" | "header">("bearer");
  const [headerName, setHeaderName] = useState("");
  const [a, setA] = useState("");
  const [b, setB] = useState("");
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState("");
  const [done, setDone] = useState(false);
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        if (!alias.trim()) return setErr("An alias is required.");
        setBusy(true);
        setErr("");
        try {
          const secrets = auth === "bearer" ? { token: a } : auth === "basic" ? { username: a, password: b } : { value: a };
          await api.post("/api/v1/integrations", {
            type: "http",
            alias: alias.trim(),
            config: auth === "header" ? { auth, header_name: headerName } : { auth },
            secrets,
          });
          await onDone();
          setDone(true);
        } catch (ce) {
          setErr(errorMessage(ce));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Add an HTTP authorization</h2>
      {done && <div className="banner banner-info">HTTP integration “{alias}” added.</div>}
      <Text id="http-alias" label="Alias" value={alias} onChange={setAlias} />
      <div className="field">
        <label className="field-label" htmlFor="http-auth">
          Authentication
        </label>
        <select id="http-auth" value={auth} onChange={(e) => setAuth(e.target.value as typeof auth)} data-testid="http-auth">
          <option value="bearer">Bearer token</option>
          <option value="basic">Basic (user + password)</option>
          <option value="header">Custom header</option>
        </select>
      </div>
      {auth === "header" && <Text id="http-header" label="Header name" value={headerName} onChange={setHeaderName} />}
      <Text id="http-a" label={auth === "bearer" ? "Token" : auth === "basic" ? "Username" : "Header value"} type={auth === "basic" ? "text" : "password"} value={a} onChange={setA} />
      {auth === "basic" && <Text id="http-b" label="Password" type="password" value={b} onChange={setB} />}
      <FormFoot busy={busy} label="Add" onClose={onClose} err={err} />
    </form>
  );
}
