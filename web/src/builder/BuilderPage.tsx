// Workflow builder page: loads the workflow and node types, then hosts the canvas editor.
import { ReactFlowProvider } from "@xyflow/react";
import { api, enc } from "../api/client";
import type { NodeType, Workflow, WorkflowDocument } from "../api/types";
import { EmptyState, ErrorBanner, Loading } from "../components/ui";
import { cached, useAsync } from "../lib/hooks";
import { href } from "../lib/router";
import { DRAFT_KEY } from "../pages/Workflows";
import { Builder } from "./Builder";

export function BuilderPage({ workflowId }: { workflowId: string }) {
  const isNew = workflowId === "new";
  const types = useAsync(() => cached("node-types", () => api.get<{ items: NodeType[] }>("/api/v1/node-types")), []);
  const wf = useAsync(
    () => (isNew ? Promise.resolve(null) : api.get<Workflow>(`/api/v1/workflows/${enc(workflowId)}`)),
    [workflowId],
  );
  if (types.error) return <ErrorBanner error={types.error} onRetry={types.reload} />;
  if (wf.error)
    return (
      <div className="page">
        <ErrorBanner error={wf.error} onRetry={wf.reload} />
        <a href={href("/workflows")}>Back to workflows</a>
      </div>
    );
  if (!types.data || wf.loading) return <Loading label="Loading the builder…" />;
  let doc: WorkflowDocument | null = wf.data?.document ?? null;
  if (isNew) {
    try {
      doc = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? "null");
    } catch {
      doc = null;
    }
    if (!doc)
      return (
        <EmptyState title="Nothing to edit">
          Start from <a href={href("/workflows")}>the workflows list</a> with “New workflow”.
        </EmptyState>
      );
  }
  return (
    <ReactFlowProvider>
      <Builder key={workflowId} types={types.data.items} initialDoc={doc!} initialWorkflow={wf.data ?? null} />
    </ReactFlowProvider>
  );
}
