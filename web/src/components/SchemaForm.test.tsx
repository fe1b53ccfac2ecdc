// Component tests for the schema-driven form generator (field kinds, live options, modes, errors).
import { act, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import type { JsonValue } from "../api/types";
import { approvalSchema, makeCtx, slackSendMessageSchema, spotSchema } from "../test/fixtures";
import { SchemaForm, type FormContext } from "./SchemaForm";

type Obj = Record<string, JsonValue>;

function Harness({
  schema,
  initial = {},
  ctx = makeCtx(),
  onValue,
}: {
  schema: object;
  initial?: Obj;
  ctx?: Omit<FormContext, "root">;
  onValue?: (v: Obj) => void;
}) {
  const [value, setValue] = useState<Obj>(initial);
  return (
    <SchemaForm
      schema={schema}
      value={value}
      ctx={ctx}
      onChange={(v) => {
        setValue(v);
        onValue?.(v);
      }}
    />
  );
}

describe("SchemaForm", () => {
  it("renders one field per property with required markers and kinds", () => {
    render(<Harness schema={slackSendMessageSchema} />);
    expect(screen.getByTestId("field-integration").dataset.kind).toBe("integration");
    expect(screen.getByTestId("field-channel").dataset.kind).toBe("source");
    expect(screen.getByTestId("field-text").dataset.kind).toBe("text");
    expect(screen.getByTestId("field-variables").dataset.kind).toBe("map");
    expect(screen.getByTestId("field-integration").querySelector(".req")).not.toBeNull();
    expect(screen.getByTestId("field-variables").querySelector(".req")).toBeNull();
  });

  it("filters the integration dropdown by x-integration-type", () => {
    render(<Harness schema={slackSendMessageSchema} />);
    const select = screen.getByTestId("input-integration") as HTMLSelectElement;
    const options = [...select.options].map((o) => o.value).filter(Boolean);
    expect(options).toEqual(["ops-slack", "other-slack"]);
  });

  it("loads Slack channels live for the chosen integration", async () => {
    const onValue = vi.fn();
    render(<Harness schema={slackSendMessageSchema} onValue={onValue} />);
    expect(screen.getByText(/Choose an integration to list its channels/)).toBeTruthy();
    fireEvent.change(screen.getByTestId("input-integration"), { target: { value: "ops-slack" } });
    const channel = (await screen.findByRole("combobox", { name: "Channel" })) as HTMLSelectElement;
    await waitFor(() => expect([...channel.options].map((o) => o.value)).toContain("C0123ABCD"));
    fireEvent.change(channel, { target: { value: "C0123ABCD" } });
    expect(onValue).toHaveBeenLastCalledWith({ integration: "ops-slack", channel: "C0123ABCD" });
  });

  it("falls back to a text input when the live list fails", async () => {
    const ctx = makeCtx({ loadOptions: async () => Promise.reject(new Error("slack is down")) });
    render(<Harness schema={slackSendMessageSchema} initial={{ integration: "ops-slack" }} ctx={ctx} />);
    expect(await screen.findByText(/Could not load channels: slack is down/)).toBeTruthy();
    expect((screen.getByTestId("input-channel") as HTMLInputElement).tagName).toBe("INPUT");
  });

  it("resolves $ref enums from oneOf const members and unwraps nullable types", () => {
    const onValue = vi.fn();
    render(<Harness schema={spotSchema} onValue={onValue} />);
    const op = screen.getByTestId("input-operation") as HTMLSelectElement;
    expect([...op.options].map((o) => o.textContent)).toEqual(["Choose…", "list_elastigroups", "get_elastigroup", "scale_down"]);
    fireEvent.change(op, { target: { value: "2" } });
    expect(onValue).toHaveBeenLastCalledWith({ operation: "scale_down" });
    expect(screen.getByTestId("field-adjustment").dataset.kind).toBe("integer");
    expect(screen.getByTestId("field-capacity").dataset.kind).toBe("object");
    expect(screen.getByTestId("field-capacity.target")).toBeTruthy();
  });

  it("writes integers as numbers and removes cleared optional fields", () => {
    const onValue = vi.fn();
    render(<Harness schema={spotSchema} initial={{ adjustment: 1 }} onValue={onValue} />);
    const adj = screen.getByTestId("input-adjustment");
    fireEvent.change(adj, { target: { value: "2" } });
    expect(onValue).toHaveBeenLastCalledWith({ adjustment: 2 });
    fireEvent.change(adj, { target: { value: "" } });
    expect(onValue).toHaveBeenLastCalledWith({});
  });

  it("edits key/value maps (Slack variables) with a value from a previous step", () => {
    const onValue = vi.fn();
    render(<Harness schema={slackSendMessageSchema} onValue={onValue} />);
    fireEvent.change(screen.getByTestId("map-new-key-variables"), { target: { value: "EG-Name" } });
    fireEvent.click(screen.getByTestId("map-add-variables"));
    expect(onValue).toHaveBeenLastCalledWith({ variables: { "EG-Name": "" } });
    // An open map's values are text fields.
    fireEvent.change(screen.getByTestId("input-variables.EG-Name"), { target: { value: "web-prod" } });
    expect(onValue).toHaveBeenLastCalledWith({ variables: { "EG-Name": "web-prod" } });
    fireEvent.click(screen.getByTestId("mode-variables.EG-Name-step"));
    fireEvent.click(screen.getByTestId("ref-key-.name"));
    expect(onValue).toHaveBeenLastCalledWith({ variables: { "EG-Name": "{{ list_elastigroup.output.name }}" } });
  });

  it("keeps the mode the user chose while typing a reference", () => {
    const onValue = vi.fn();
    render(<Harness schema={spotSchema} onValue={onValue} />);
    fireEvent.click(screen.getByTestId("mode-group_id-expr"));
    fireEvent.change(screen.getByTestId("expr-group_id"), { target: { value: "{{ trigger_1.output.Elastigroup_Id }}" } });
    expect(onValue).toHaveBeenLastCalledWith({ group_id: "{{ trigger_1.output.Elastigroup_Id }}" });
    expect(screen.getByTestId("mode-group_id-expr").getAttribute("aria-checked")).toBe("true");
    expect(screen.getByTestId("expr-group_id")).toBeTruthy();
  });

  it("validates durations as you type", () => {
    render(<Harness schema={approvalSchema} />);
    const t = screen.getByTestId("input-timeout");
    fireEvent.change(t, { target: { value: "4 hours" } });
    expect(screen.getByText(/Use a number and a unit/)).toBeTruthy();
    fireEvent.change(t, { target: { value: "4h" } });
    expect(screen.queryByText(/Use a number and a unit/)).toBeNull();
  });

  it("adds and removes list items", () => {
    const onValue = vi.fn();
    render(<Harness schema={approvalSchema} onValue={onValue} />);
    fireEvent.click(screen.getByTestId("add-approvers"));
    expect(onValue).toHaveBeenLastCalledWith({ approvers: [""] });
    fireEvent.change(screen.getByTestId("input-approvers[0]"), { target: { value: "U123" } });
    expect(onValue).toHaveBeenLastCalledWith({ approvers: ["U123"] });
    fireEvent.click(screen.getByTestId("remove-approvers-0"));
    expect(onValue).toHaveBeenLastCalledWith({ approvers: [] });
  });

  it("offers the three input modes and keeps raw expressions", () => {
    const onValue = vi.fn();
    render(<Harness schema={approvalSchema} onValue={onValue} />);
    fireEvent.click(screen.getByTestId("mode-notes-expr"));
    fireEvent.change(screen.getByTestId("expr-notes"), { target: { value: "Scale {{ list_elastigroup.output.name }}?" } });
    expect(onValue).toHaveBeenLastCalledWith({ notes: "Scale {{ list_elastigroup.output.name }}?" });
    fireEvent.click(screen.getByTestId("mode-notes-value"));
    expect(onValue).toHaveBeenLastCalledWith({});
  });

  it("opens a field in the mode its stored value needs", () => {
    render(<Harness schema={approvalSchema} initial={{ notes: "{{ trigger_1.output.Account_ID }}", timeout: "4h" }} />);
    expect(screen.getByTestId("mode-notes-step").getAttribute("aria-checked")).toBe("true");
    expect((screen.getByTestId("ref-step") as HTMLSelectElement).value).toBe("trigger_1");
    expect(screen.getByTestId("mode-timeout-value").getAttribute("aria-checked")).toBe("true");
  });

  it("shows server validation messages on the fields they concern", () => {
    const ctx = makeCtx({ errors: { channel: "unknown channel", "variables.EG-Name": "bad reference", zzz: "odd" } });
    render(<Harness schema={slackSendMessageSchema} initial={{ variables: { "EG-Name": "x" } }} ctx={ctx} />);
    expect(screen.getByTestId("error-channel").textContent).toBe("unknown channel");
    expect(screen.getByTestId("field-channel").className).toContain("has-error");
    expect(screen.getByTestId("error-variables.EG-Name").textContent).toBe("bad reference");
    expect(screen.getByTestId("form-error").textContent).toContain("odd");
  });

  it("renders tagged unions (oneOf objects) as a variant picker", async () => {
    const schema = {
      oneOf: [
        { type: "object", required: ["mode"], properties: { mode: { const: "cron" }, cron: { type: "string" } } },
        { type: "object", required: ["mode"], properties: { mode: { const: "every" }, every: { type: "string", format: "duration" } } },
      ],
    };
    const onValue = vi.fn();
    render(<Harness schema={schema} initial={{ mode: "cron", cron: "0 * * * *" }} onValue={onValue} />);
    expect(screen.getByTestId("field-cron")).toBeTruthy();
    await act(async () => {
      fireEvent.change(screen.getByTestId("variant-variant"), { target: { value: "1" } });
    });
    expect(onValue).toHaveBeenLastCalledWith({ mode: "every" });
    expect(screen.getByTestId("field-every").dataset.kind).toBe("duration");
  });
});
