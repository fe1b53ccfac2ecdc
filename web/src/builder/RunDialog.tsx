// "Run now" dialog: starts a manual run of a workflow with a JSON payload.
import { useState } from "react";
import { api, enc, errorMessage } from "../api/client";
import { Modal } from "../components/ui";

export function RunDialog({
  workflowId,
  onClose,
  onStarted,
  initialPayload = "{}",
}: {
  workflowId: string;
  onClose: () => void;
  onStarted: (executionId: string) => void;
  initialPayload?: string;
}) {
  const [text, setText] = useState(initialPayload);
  const [err, setErr] = useState("");
  const [busy, setBusy] = useState(false);
  const run = async () => {
    let payload: unknown;
    try {
      payload = text.trim() ? JSON.parse(text) : {};
    } catch {
      setErr("The payload is not valid JSON.");
      return;
    }
    setBusy(true);
    setErr("");
    try {
      const r = await api.post<{ execution_id: string }>(`/api/v1/workflows/${enc(workflowId)}/executions`, payload);
      onStarted(r.execution_id);
    } catch (e) {
      setErr(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title="Run workflow"
      onClose={onClose}
      testId="run-dialog"
      footer={
        <>
          <button className="btn btn-ghost" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" onClick={() => void run()} disabled={busy} data-testid="run-confirm">
            {busy ? "Starting…" : "Run"}
          </button>
        </>
      }
    >
      <label className="field-label" htmlFor="run-payload">
        Payload (JSON, becomes the trigger output)
      </label>
      <textarea id="run-payload" className="code" rows={10} value={text} onChange={(e) => setText(e.target.value)} data-testid="run-payload" />
      {err && <div className="field-error" role="alert">{err}</div>}
    </Modal>
  );
}
