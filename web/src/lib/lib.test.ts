// Unit tests for reference parsing, graph conversion and schema helpers.
import { describe, expect, it } from "vitest";
import type { NodeType, WorkflowDocument } from "../api/types";
import { docToFlow, flowToDoc, nextNodeId, problemFields, sourceHandles, splitDetailPath } from "./graph";
import { nameRules } from "./naming";
import { buildRef, detectMode, parseRef, renameRefs, stepOutputSchema, upstreamOf } from "./refs";
import { isValidDuration, normalize } from "./schema";

const nt = (o: Partial<NodeType>): NodeType => ({
  type: "x.y", display_name: "X", category: "Core", ports: [], params_schema: {}, ...o,
});

describe("references", () => {
  it("parses and builds references", () => {
    expect(parseRef("{{ a_1.output.x[0][\"k-1\"] }}")).toEqual({ step: "a_1", field: "output", path: ["x", 0, "k-1"] });
    expect(parseRef("hello {{ a.output }}")).toBeNull();
    expect(buildRef("a", "output", ["x", 0, "k-1"])).toBe('{{ a.output.x[0]["k-1"] }}');
    expect(detectMode("{{ a.output.x }}")).toBe("step");
    expect(detectMode("x {{ a.output.x }}")).toBe("expr");
    expect(detectMode(3)).toBe("value");
  });
  it("renames step ids inside references only", () => {
    expect(renameRefs({ a: "{{ notify.output.ts }} and notify", b: ["{{ x.output.notify.y }}"] }, "notify", "n2")).toEqual({
      a: "{{ n2.output.ts }} and notify",
      b: ["{{ x.output.notify.y }}"],
    });
  });
  it("finds upstream steps", () => {
    const edges = [{ from: "t", to: "a" }, { from: "a", to: "b" }, { from: "c", to: "b" }, { from: "b", to: "d" }];
    expect(upstreamOf("d", edges).sort()).toEqual(["a", "b", "c", "t"]);
  });
  it("uses the webhook's output_schema for the trigger output", () => {
    const s = stepOutputSchema({ id: "trigger_1", type: "trigger.webhook", params: { output_schema: { type: "object", properties: { A: { type: "string" } } } } });
    expect(s.properties.output.properties.A).toEqual({ type: "string" });
    expect(s.properties.headers).toBeTruthy();
  });
});

describe("graph", () => {
  it("gives handles per port", () => {
    expect(sourceHandles(nt({ ports: [] }), {}).map((h) => h.id)).toEqual(["default"]);
    expect(sourceHandles(nt({ type: "core.stop", ports: [] }), {})).toEqual([]); // ends the run
    expect(sourceHandles(nt({ ports: ["approved", "denied", "timed_out"], error_port: true }), {}).map((h) => h.id)).toEqual([
      "approved", "denied", "timed_out", "error",
    ]);
    expect(
      sourceHandles(nt({ dynamic_ports: true, ports: [] }), { rules: [{ port: "high" }, { port: "low" }] }).map((h) => h.id),
    ).toEqual(["high", "low", "else"]);
  });
  it("round-trips documents with positions and ports", () => {
    const doc: WorkflowDocument = {
      name: "n", description: "d",
      nodes: [
        { id: "trigger_1", type: "trigger.webhook", params: { api_key: "k" }, position: { x: 1, y: 2 } },
        { id: "approval_1", type: "slack.approval", params: {} },
      ],
      edges: [{ from: "trigger_1", to: "approval_1" }, { from: "approval_1", port: "denied", to: "trigger_1" }],
    };
    const f = docToFlow(doc);
    const back = flowToDoc(f.meta, f.nodes, f.edges);
    expect(back.nodes[0].position).toEqual({ x: 1, y: 2 });
    expect(back.nodes[1].position).toBeTruthy();
    expect(back.edges).toEqual(doc.edges);
  });
  it("maps detail paths to nodes", () => {
    expect(splitDetailPath("nodes[1].params.channel", ["a", "b"])).toEqual({ nodeId: "b", rest: "params.channel" });
    expect(splitDetailPath("name", ["a"])).toEqual({ nodeId: null, rest: "name" });
  });
  it("generates ids", () => {
    expect(nextNodeId("slack.approval", new Set(["approval_1"]))).toBe("approval_2");
    expect(nextNodeId("trigger.webhook", new Set())).toBe("trigger_1");
  });
});

describe("schema and naming", () => {
  it("unwraps Option<T>", () => {
    const root = { $defs: { C: { type: "object", properties: { a: { type: "string" } } } } };
    expect(normalize({ anyOf: [{ $ref: "#/$defs/C" }, { type: "null" }] }, root)).toEqual({
      schema: root.$defs.C,
      nullable: true,
    });
  });
  it("checks durations and names", () => {
    expect(isValidDuration("4h")).toBe(true);
    expect(isValidDuration("1h30m")).toBe(true);
    expect(isValidDuration("4 hours")).toBe(false);
    expect(nameRules("AmazonThing").find((r) => r.id === "prefix")!.ok).toBe(false);
    expect(nameRules("x".repeat(129)).find((r) => r.id === "length")!.ok).toBe(false);
    expect(nameRules("Budget").every((r) => r.ok)).toBe(true);
  });
});

describe("problems on fields", () => {
  it("maps whole-params problems to the fields they name", () => {
    expect(problemFields('"channel" is a required property', {})).toEqual(["channel"]);
    const params = { text: "hi {{ done.output.x }}", other: "{{ undone.output }}", n: 3, deep: { a: ["{{done}}"] } };
    expect(problemFields("refers to `done`, which is not upstream of `shape`", params)).toEqual(["text", "deep"]);
    expect(problemFields("something else", params)).toEqual([]);
  });
});
