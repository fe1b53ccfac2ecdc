// API keys page: create (value shown once with copy + warning), list and delete.
import { useState } from "react";
import { api, enc, errorMessage } from "../api/client";
import type { ApiKey, Page } from "../api/types";
import { ConfirmButton, CopyButton, EmptyState, ErrorBanner, Loading } from "../components/ui";
import { formatDate } from "../lib/format";
import { useAsync } from "../lib/hooks";
import { useSession } from "../session";

export function ApiKeysPage() {
  const { canEdit } = useSession();
  const list = useAsync(() => api.get<Page<ApiKey>>("/api/v1/api-keys"), []);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [err, setErr] = useState("");
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const create = async () => {
    if (!name.trim()) return setErr("Give the key a name, e.g. budget-alerts.");
    setBusy(true);
    setErr("");
    try {
      const r = await api.post<{ name: string; key: string }>("/api/v1/api-keys", { name: name.trim() });
      setCreated(r);
      setName("");
      await list.reload();
    } catch (e) {
      setErr(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page" data-testid="api-keys-page">
      <div className="page-head">
        <h1>API keys</h1>
      </div>
      <p className="muted">Webhook callers present an API key in the <code>x-api-key</code> header or query parameter. A webhook trigger names the key it accepts.</p>
      {canEdit && (
        <form
          className="card inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <label className="field-label" htmlFor="key-name">
            New key name
          </label>
          <div className="row">
            <input id="key-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="budget-alerts" data-testid="api-key-name" />
            <button className="btn btn-primary" type="submit" disabled={busy} data-testid="create-api-key">
              {busy ? "Creating…" : "Create key"}
            </button>
          </div>
          {err && <div className="field-error" role="alert">{err}</div>}
        </form>
      )}
      {created && (
        <div className="banner banner-warn" data-testid="api-key-created" role="status">
          <div className="banner-body">
            <strong>Copy the key “{created.name}” now. It will not be shown again.</strong>
            <div className="copy-row">
              <code className="secret" data-testid="api-key-value">
                {created.key}
              </code>
              <CopyButton text={created.key} testId="copy-api-key" />
            </div>
          </div>
          <button className="btn btn-small" onClick={() => setCreated(null)} data-testid="api-key-done">
            I copied it
          </button>
        </div>
      )}
      <ErrorBanner error={actionError} />
      {list.error ? (
        <ErrorBanner error={list.error} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading />
      ) : list.data.items.length === 0 ? (
        <EmptyState title="No API keys yet" testId="api-keys-empty">
          Create one for each system that sends alerts, so it can be revoked alone.
        </EmptyState>
      ) : (
        <table className="table" data-testid="api-keys-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Created</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((k) => (
              <tr key={k.name} data-testid={`api-key-row-${k.name}`}>
                <td className="strong">{k.name}</td>
                <td className="muted">{formatDate(k.created_at)}</td>
                <td className="actions">
                  {canEdit && (
                    <ConfirmButton
                      label="Delete"
                      testId={`delete-api-key-${k.name}`}
                      onConfirm={async () => {
                        setActionError(null);
                        try {
                          await api.del(`/api/v1/api-keys/${enc(k.name)}`);
                          await list.reload();
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
