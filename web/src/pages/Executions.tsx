// Executions list: filters (workflow, status, time range), server-side cursor pagination, live polling.
import { useMemo, useState } from "react";
import { api, enc, qs } from "../api/client";
import { ACTIVE_STATUSES, EXECUTION_STATUSES, type Execution, type Page, type WorkflowSummary } from "../api/types";
import { EmptyState, ErrorBanner, Loading, Pager, StatusBadge } from "../components/ui";
import { duration, formatDate, relativeTime } from "../lib/format";
import { useAsync, useInterval } from "../lib/hooks";
import { href, navigate, useRoute } from "../lib/router";

const PAGE = 50;

function daysAgoIso(days: number) {
  return new Date(Date.now() - days * 86400_000).toISOString();
}

export function ExecutionsPage() {
  const route = useRoute();
  const workflowId = route.query.get("workflow_id") ?? "";
  const status = route.query.get("status") ?? "";
  const range = route.query.get("range") ?? "30d";
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const since = useMemo(() => daysAgoIso(range === "24h" ? 1 : range === "7d" ? 7 : 30), [range]);

  const workflows = useAsync(
    () => api.get<Page<WorkflowSummary>>(`/api/v1/workflows${qs({ limit: 200 })}`).then((r) => r.items),
    [],
  );
  // The filtered workflow may be beyond the first 200: ask for its name alone.
  const filtered = useAsync(
    () =>
      workflowId && workflows.data && !workflows.data.some((w) => w.id === workflowId)
        ? api.get<WorkflowSummary>(`/api/v1/workflows/${enc(workflowId)}`).then((w) => w.name, () => null)
        : Promise.resolve(null),
    [workflowId, workflows.data],
  );
  const names = useMemo(() => {
    const m = new Map((workflows.data ?? []).map((w) => [w.id, w.name]));
    if (workflowId && filtered.data) m.set(workflowId, filtered.data);
    return m;
  }, [workflows.data, workflowId, filtered.data]);
  const query = qs({ workflow_id: workflowId, status, since, limit: PAGE, cursor });
  const fetched = useAsync(
    () => api.get<Page<Execution>>(`/api/v1/executions${query}`).then((page) => ({ query, page })),
    [query],
  );
  const list = { ...fetched, data: fetched.data?.page };
  // Rows of the previous filter or page stay visible (dimmed) until the new page arrives.
  const stale = !!fetched.data && fetched.data.query !== query;
  const active = !!list.data?.items.some((e) => ACTIVE_STATUSES.includes(e.status));
  // Live: every 2 s while a shown run is in progress; on the first page also every 5 s otherwise,
  // so runs started elsewhere appear without a reload. Older pages only change when runs end.
  const onFirstPage = cursors.length === 1;
  useInterval(
    () => {
      if (document.visibilityState === "visible") void list.reload();
    },
    active ? 2000 : onFirstPage ? 5000 : null,
  );

  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams(route.query);
    if (v) q.set(k, v);
    else q.delete(k);
    setCursors([null]);
    navigate(`/executions${q.toString() ? `?${q}` : ""}`);
  };

  return (
    <div className="page" data-testid="executions-page">
      <div className="page-head">
        <h1>Executions</h1>
        {active && (
          <span className="live" data-testid="live-indicator">
            <span className="live-dot" /> updating live
          </span>
        )}
      </div>
      <div className="filters" role="search">
        <label>
          <span className="sub-label">Workflow</span>
          <select value={workflowId} onChange={(e) => setFilter("workflow_id", e.target.value)} data-testid="filter-workflow">
            <option value="">All workflows</option>
            {workflowId && !(workflows.data ?? []).some((w) => w.id === workflowId) && (
              <option value={workflowId}>{names.get(workflowId) ?? (workflows.data ? workflowId : "Loading…")}</option>
            )}
            {(workflows.data ?? []).map((w) => (
              <option key={w.id} value={w.id}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span className="sub-label">Status</span>
          <select value={status} onChange={(e) => setFilter("status", e.target.value)} data-testid="filter-status">
            <option value="">Any status</option>
            {EXECUTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span className="sub-label">Period</span>
          <select value={range} onChange={(e) => setFilter("range", e.target.value === "30d" ? "" : e.target.value)} data-testid="filter-range">
            <option value="24h">Last 24 hours</option>
            <option value="7d">Last 7 days</option>
            <option value="30d">Last 30 days</option>
          </select>
        </label>
      </div>
      {list.error && !list.data ? (
        <ErrorBanner error={list.error} onRetry={list.reload} />
      ) : !list.data ? (
        <Loading />
      ) : list.data.items.length === 0 ? (
        <EmptyState title={workflowId || status ? "No executions match these filters" : "No executions yet"} testId="executions-empty">
          Runs appear here when a webhook, a schedule or a manual run starts a workflow.
        </EmptyState>
      ) : (
        <>
          {list.error ? <ErrorBanner error={list.error} /> : null}
          <table className={`table${stale ? " stale" : ""}`} data-testid="executions-table" aria-busy={stale}>
            <thead>
              <tr>
                <th>Status</th>
                <th>Workflow</th>
                <th>Started</th>
                <th>Duration</th>
                <th>Trigger</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((x) => (
                <tr
                  key={x.id}
                  className="clickable"
                  data-testid={`execution-row-${x.id}`}
                  onClick={() => navigate(`/executions/${enc(x.id)}`)}
                >
                  <td>
                    <a href={href(`/executions/${enc(x.id)}`)} onClick={(e) => e.stopPropagation()} data-testid="execution-link">
                      <StatusBadge status={x.status} />
                    </a>
                  </td>
                  <td>
                    {x.workflow_name ?? names.get(x.workflow_id) ?? <code className="small">{x.workflow_id}</code>}
                    <span className="muted small"> v{x.workflow_version}</span>
                  </td>
                  <td title={formatDate(x.created_at)}>{relativeTime(x.created_at)}</td>
                  <td>{duration(x.started_at ?? x.created_at, x.finished_at)}</td>
                  <td className="muted">{x.trigger?.type ?? "—"}</td>
                  <td className="clamp error-cell">{typeof x.error === "string" ? x.error : x.error ? (x.error as { message?: string }).message ?? "error" : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager
            hasPrev={cursors.length > 1}
            hasNext={!!list.data.next_cursor}
            onPrev={() => setCursors(cursors.slice(0, -1))}
            onNext={() => setCursors([...cursors, list.data!.next_cursor!])}
            label={`Page ${cursors.length}`}
          />
        </>
      )}
    </div>
  );
}
