// Pending approvals: notes, channel, expiry; approve or deny from the console with a comment.
import { useState } from "react";
import { api, enc, errorMessage, qs } from "../api/client";
import type { Approval, Page } from "../api/types";
import { EmptyState, ErrorBanner, Loading } from "../components/ui";
import { formatDate } from "../lib/format";
import { useAsync, useInterval } from "../lib/hooks";
import { href } from "../lib/router";
import { useSession } from "../session";

export function ApprovalsPage() {
  const list = useAsync(() => api.get<Page<Approval>>(`/api/v1/approvals${qs({ status: "pending", limit: 100 })}`), []);
  useInterval(() => void list.reload(), 5000);
  return (
    <div className="page" data-testid="approvals-page">
      <div className="page-head">
        <h1>Approvals</h1>
      </div>
      {list.error && !list.data ? (
        <ErrorBanner error={list.error} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading />
      ) : list.data.items.length === 0 ? (
        <EmptyState title="No pending approvals" testId="approvals-empty">
          When a workflow reaches a Slack Approval step, the decision can be made in Slack or here.
        </EmptyState>
      ) : (
        <div className="cards">
          {list.data.items.map((a) => (
            <ApprovalCard key={a.id} approval={a} onDone={() => void list.reload()} />
          ))}
        </div>
      )}
    </div>
  );
}

function ApprovalCard({ approval: a, onDone }: { approval: Approval; onDone: () => void }) {
  const { canEdit, session } = useSession();
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState("");
  const [err, setErr] = useState("");
  const decide = async (decision: "approve" | "deny") => {
    setBusy(decision);
    setErr("");
    try {
      await api.post(`/api/v1/approvals/${enc(a.id)}/decision`, { decision, comment });
      onDone();
    } catch (e) {
      setErr(errorMessage(e));
    } finally {
      setBusy("");
    }
  };
  return (
    <div className="card approval" data-testid={`approval-${a.id}`}>
      <div className="approval-head">
        <strong>{a.node_id}</strong>
        <span className="muted small">
          {a.channel && <>in {a.channel} · </>}
          {a.expires_at && <span title={formatDate(a.expires_at)}>expires {formatDate(a.expires_at)}</span>}
        </span>
      </div>
      <div className="approval-notes" data-testid="approval-notes">
        {a.notes || <span className="muted">No notes.</span>}
      </div>
      <div className="small">
        <a href={href(`/executions/${enc(a.execution_id)}`)}>Open the execution</a> ·{" "}
        <a href={href(`/workflows/${enc(a.workflow_id)}`)}>workflow</a>
      </div>
      {canEdit ? (
        <>
          <label className="sub-label" htmlFor={`comment-${a.id}`}>
            Comment (optional)
          </label>
          <input id={`comment-${a.id}`} value={comment} onChange={(e) => setComment(e.target.value)} data-testid="approval-comment" />
          <div className="row-actions">
            <button className="btn btn-primary" disabled={!!busy} onClick={() => void decide("approve")} data-testid="approve">
              {busy === "approve" ? "Approving…" : "Approve"}
            </button>
            <button className="btn btn-danger" disabled={!!busy} onClick={() => void decide("deny")} data-testid="deny">
              {busy === "deny" ? "Denying…" : "Deny"}
            </button>
          </div>
          <div className="muted small">Recorded as {session?.token_name}.</div>
        </>
      ) : (
        <div className="muted small">Viewers cannot decide approvals.</div>
      )}
      {err && <div className="field-error" role="alert">{err}</div>}
    </div>
  );
}
