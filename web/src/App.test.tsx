// Smoke tests: the whole app against a mocked API (sign-in gate, lists, builder canvas, execution detail).
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { SessionProvider } from "./session";
import { approvalSchema, slackSendMessageSchema } from "./test/fixtures";

const session = { org_id: "o1", org_name: "default", role: "admin", token_name: "bootstrap", csrf_token: "csrf-1" };
const nodeTypes = {
  items: [
    { type: "trigger.webhook", display_name: "Generic Webhook", category: "Triggers", ports: [], params_schema: { type: "object", properties: { api_key: { type: "string" }, output_schema: {} } } },
    { type: "slack.send_message", display_name: "Send Message", category: "Slack", ports: [], error_port: true, params_schema: slackSendMessageSchema },
    { type: "slack.approval", display_name: "Slack Approval", category: "Slack", ports: ["approved", "denied", "timed_out"], params_schema: approvalSchema },
    { type: "core.stop", display_name: "Stop", category: "Core", ports: [], params_schema: { type: "object", properties: { message: { type: "string" } } } },
  ],
};
const doc = {
  name: "Budget", description: "d",
  nodes: [
    { id: "trigger_1", type: "trigger.webhook", params: { api_key: "k" }, position: { x: 0, y: 0 } },
    { id: "approval_1", type: "slack.approval", params: {}, position: { x: 300, y: 0 } },
  ],
  edges: [{ from: "trigger_1", to: "approval_1" }],
};

let signedIn = true;
const calls: { method: string; url: string; headers: Record<string, string>; body?: string }[] = [];

function reply(status: number, body?: unknown) {
  return Promise.resolve(new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

beforeAll(() => {
  class RO { observe() {} unobserve() {} disconnect() {} }
  (globalThis as any).ResizeObserver = RO;
  (globalThis as any).DOMMatrixReadOnly = class { m22 = 1; constructor() {} };
  vi.stubGlobal("fetch", (url: string, init: RequestInit = {}) => {
    const method = init.method ?? "GET";
    calls.push({ method, url, headers: (init.headers ?? {}) as Record<string, string>, body: init.body as string });
    const path = url.split("?")[0];
    if (path === "/api/v1/session") {
      if (method === "POST") { signedIn = true; return reply(200, session); }
      if (method === "DELETE") { signedIn = false; return reply(204); }
      return signedIn ? reply(200, session) : reply(401, { error: { code: "unauthorized", message: "not signed in" } });
    }
    if (path === "/api/v1/node-types") return reply(200, nodeTypes);
    if (path === "/api/v1/workflows" && method === "GET")
      return reply(200, { items: [{ id: "wf1", name: "Budget", description: "d", version: 3, enabled: true, created_at: "2024-01-01T00:00:00Z", updated_at: "2024-01-01T00:00:00Z", last_execution: { id: "ex1", status: "succeeded", created_at: "2024-01-01T00:00:00Z" } }], next_cursor: null });
    if (path === "/api/v1/workflows/wf1" && method === "GET")
      return reply(200, { id: "wf1", name: "Budget", version: 3, enabled: true, webhook_url: "http://localhost:8080/webhooks/wf1", document: doc, created_at: "", updated_at: "" });
    if (path === "/api/v1/workflows/wf1" && method === "PUT")
      return reply(422, { error: { code: "invalid", message: "The workflow is invalid", details: [{ path: "nodes[1].params.channel", message: "channel is required" }] } });
    if (path === "/api/v1/integrations") return reply(200, { items: [] });
    if (path === "/api/v1/api-keys") return reply(200, { items: [{ name: "k" }] });
    if (path === "/api/v1/executions/ex1")
      return reply(200, { id: "ex1", workflow_id: "wf1", workflow_version: 3, status: "succeeded", trigger: { type: "webhook", body: { Elastigroup_Id: "sig-1" } }, created_at: "2024-01-01T00:00:00Z", started_at: "2024-01-01T00:00:00Z", finished_at: "2024-01-01T00:00:01Z", error: null, steps: [{ node_id: "approval_1", type: "slack.approval", status: "succeeded", port: "approved", attempts: 1, input: { notes: "n" }, output: { output: { decision: "approve", decided_by: { id: "U1", name: "alice" } } }, error: null, started_at: "2024-01-01T00:00:00Z", finished_at: "2024-01-01T00:00:01Z" }] });
    return reply(404, { error: { code: "not_found", message: "Not found." } });
  });
});

afterEach(() => {
  window.location.hash = "";
});

// The console only asks the server for a session when this browser signed in before.
const rememberSignIn = () => localStorage.setItem("flowgate.signed-in", "1");

const renderApp = () => render(<SessionProvider><App /></SessionProvider>);

describe("App", () => {
  it("shows sign-in when not signed in and signs in", async () => {
    signedIn = false;
    localStorage.clear();
    renderApp();
    fireEvent.change(await screen.findByTestId("signin-token"), { target: { value: "tok" } });
    // A browser that never signed in is not sent to the server first (no 401 in its console).
    expect(calls.some((c) => c.method === "GET" && c.url === "/api/v1/session")).toBe(false);
    await act(async () => fireEvent.click(screen.getByTestId("signin-submit")));
    expect(await screen.findByTestId("workflows-table")).toBeTruthy();
    expect(screen.getByTestId("session-info").textContent).toContain("bootstrap");
  });

  it("renders the builder with nodes and handles, and maps 422 details to nodes and fields", async () => {
    signedIn = true;
    rememberSignIn();
    window.location.hash = "#/workflows/wf1";
    renderApp();
    const node = await screen.findByTestId("node-approval_1");
    expect(screen.getByTestId("handle-approval_1-approved")).toBeTruthy();
    expect(screen.getByTestId("handle-approval_1-timed_out")).toBeTruthy();
    expect(screen.queryByTestId("handle-approval_1-default")).toBeNull();
    expect(screen.getByTestId("handle-trigger_1-default")).toBeTruthy();
    await act(async () => fireEvent.click(screen.getByTestId("save-button")));
    await waitFor(() => expect(screen.getByTestId("node-errors-approval_1")).toBeTruthy());
    expect(screen.getByTestId("save-error").textContent).toContain("The workflow is invalid");
    const put = calls.find((c) => c.method === "PUT");
    expect(put?.headers["x-csrf-token"]).toBe("csrf-1");
    const sent = JSON.parse(put!.body!);
    expect(sent.nodes.every((n: any) => n.position && typeof n.position.x === "number")).toBe(true);
    void node;
  });

  it("shows an execution with its steps and the alert body", async () => {
    signedIn = true;
    rememberSignIn();
    window.location.hash = "#/executions/ex1";
    renderApp();
    expect(await screen.findByTestId("step-approval_1")).toBeTruthy();
    expect(screen.getByTestId("decision-approval_1").textContent).toContain("alice");
    fireEvent.click(screen.getByTestId("exec-tab-alert"));
    expect(screen.getByTestId("alert-body-json").textContent).toContain("sig-1");
  });
});
