// Test fixtures: params schemas shaped like the server's schemars output, and sample upstream steps.
import type { Integration } from "../api/types";
import type { UpstreamStep } from "../components/RefPicker";
import type { FormContext } from "../components/SchemaForm";

export const slackSendMessageSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "SendMessageParams",
  type: "object",
  required: ["integration", "channel", "text"],
  properties: {
    integration: { type: "string", description: "Slack integration alias", "x-integration-type": "slack" },
    channel: { type: "string", description: "Channel id", "x-source": "slack-channels" },
    text: { type: "string", description: "Message text" },
    // As the server publishes it: any values.
    variables: { type: "object", additionalProperties: true, default: {} },
    blocks: { anyOf: [{ type: "array", items: true }, { type: "null" }] },
  },
};

export const spotSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  required: ["integration", "operation"],
  properties: {
    integration: { type: "string", "x-integration-type": "spot" },
    account_id: { type: ["string", "null"], "x-source": "spot-accounts" },
    operation: { $ref: "#/$defs/Operation" },
    group_id: { type: ["string", "null"] },
    adjustment: { type: ["integer", "null"], format: "uint32", minimum: 0 },
    capacity: { anyOf: [{ $ref: "#/$defs/Capacity" }, { type: "null" }] },
  },
  $defs: {
    Operation: {
      oneOf: [
        { type: "string", const: "list_elastigroups", description: "List groups" },
        { type: "string", const: "get_elastigroup" },
        { type: "string", const: "scale_down" },
      ],
    },
    Capacity: {
      type: "object",
      properties: { minimum: { type: "integer" }, maximum: { type: "integer" }, target: { type: "integer" } },
    },
  },
};

export const approvalSchema = {
  type: "object",
  required: ["integration", "channel", "notes", "timeout"],
  properties: {
    integration: { type: "string", "x-integration-type": "slack" },
    channel: { type: "string", "x-source": "slack-channels" },
    notes: { type: "string" },
    timeout: { type: "string", description: "How long to wait, e.g. 4h" }, // no `format`, as the server publishes it
    approvers: { type: "array", items: { type: "string" } },
  },
};

export const integrations: Integration[] = [
  { type: "slack", alias: "ops-slack" },
  { type: "spot", alias: "spot-prod" },
  { type: "slack", alias: "other-slack" },
];

export const upstream: UpstreamStep[] = [
  {
    id: "list_elastigroup",
    label: "List Elastigroup (list_elastigroup)",
    schema: {
      type: "object",
      properties: {
        output: {
          type: "object",
          properties: {
            id: { type: "string" },
            name: { type: "string" },
            capacity: { type: "object", properties: { target: { type: "integer" } } },
            "cost-center": { type: "string" },
          },
        },
        items: { type: "array", items: { type: "object", properties: { name: { type: "string" } } } },
        request_id: { type: "string" },
      },
    },
  },
  {
    id: "trigger_1",
    label: "Webhook (trigger_1)",
    schema: {
      type: "object",
      properties: {
        output: { type: "object", properties: { Elastigroup_Id: { type: "string" }, Account_ID: { type: "string" } } },
        headers: { type: "object" },
        query: { type: "object" },
      },
    },
  },
];

export function makeCtx(overrides: Partial<Omit<FormContext, "root">> = {}): Omit<FormContext, "root"> {
  return {
    steps: upstream,
    integrations,
    loadOptions: async (source, alias) => {
      if (source === "slack-channels" && alias === "ops-slack")
        return [
          { value: "C0123ABCD", label: "#ops (C0123ABCD)" },
          { value: "C0999", label: "#alerts (C0999)" },
        ];
      if (source === "spot-accounts") return [{ value: "act-29ddd123", label: "Prod (act-29ddd123)" }];
      return [];
    },
    errors: {},
    ...overrides,
  };
}
