// Shared TypeScript types for the Flowgate HTTP API payloads used by the console.
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };
export type JsonSchema = { [k: string]: any } | boolean;

export interface Session {
  org_id: string;
  org_name: string;
  role: "admin" | "editor" | "viewer" | string;
  token_name: string;
  csrf_token: string;
}

export interface ErrorDetail {
  path: string;
  message: string;
}

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export interface NodeType {
  type: string;
  display_name: string;
  category: string;
  description?: string;
  ports: string[];
  dynamic_ports?: boolean;
  error_port?: boolean;
  params_schema: JsonSchema;
  /** Optional: JSON Schema of the step output object (not in the v1 contract; used when present). */
  output_schema?: JsonSchema;
}

export interface DocNode {
  id: string;
  type: string;
  name?: string;
  params?: JsonObject;
  retry?: { max_attempts?: number; backoff?: string } | null;
  timeout?: string | null;
  position?: { x: number; y: number };
}

export interface DocEdge {
  from: string;
  port?: string | null;
  to: string;
}

export interface WorkflowDocument {
  name: string;
  description: string;
  timeout?: string | null;
  nodes: DocNode[];
  edges: DocEdge[];
}

export type ExecutionStatus =
  | "queued"
  | "running"
  | "waiting"
  | "succeeded"
  | "failed"
  | "stopped"
  | "cancelled";

export interface WorkflowSummary {
  id: string;
  name: string;
  description?: string;
  version: number;
  enabled: boolean;
  webhook_url?: string | null;
  created_at: string;
  updated_at: string;
  last_execution?: { id: string; status: ExecutionStatus; created_at: string } | null;
}

export interface Workflow {
  id: string;
  name: string;
  version: number;
  enabled: boolean;
  webhook_url?: string | null;
  document: WorkflowDocument;
  created_at: string;
  updated_at: string;
}

export interface Step {
  node_id: string;
  type: string;
  name?: string | null;
  status: string;
  port?: string | null;
  attempts?: number;
  input?: JsonValue;
  output?: JsonValue;
  error?: JsonValue;
  started_at?: string | null;
  finished_at?: string | null;
}

export interface Execution {
  id: string;
  workflow_id: string;
  workflow_name?: string;
  workflow_version: number;
  status: ExecutionStatus;
  trigger?: { type?: string; body?: JsonValue; received_at?: string } | null;
  created_at: string;
  started_at?: string | null;
  finished_at?: string | null;
  error?: JsonValue;
  steps?: Step[];
}

export interface Approval {
  id: string;
  execution_id: string;
  workflow_id: string;
  node_id: string;
  status: string;
  notes?: string | null;
  channel?: string | null;
  expires_at?: string | null;
  decision?: string | null;
  decided_by?: JsonValue;
  decided_at?: string | null;
}

export interface Integration {
  type: "spot" | "slack" | "http" | string;
  alias: string;
  config?: JsonObject;
  created_at?: string;
}

export interface ApiKey {
  name: string;
  created_at?: string;
}

export const ACTIVE_STATUSES: ExecutionStatus[] = ["queued", "running", "waiting"];
export const EXECUTION_STATUSES: ExecutionStatus[] = [
  "queued",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "stopped",
  "cancelled",
];
