// Component tests for the reference picker ("set value from a previous step").
import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { upstream } from "../test/fixtures";
import { RefPicker } from "./RefPicker";

describe("RefPicker", () => {
  it("shows an empty state when there is no upstream step", () => {
    render(<RefPicker steps={[]} value={undefined} onChange={() => {}} />);
    expect(screen.getByTestId("ref-picker").textContent).toMatch(/No previous steps/);
  });

  it("lists upstream steps and the output fields of the chosen one", () => {
    render(<RefPicker steps={upstream} value={undefined} onChange={() => {}} />);
    const step = screen.getByTestId("ref-step") as HTMLSelectElement;
    expect([...step.options].map((o) => o.value)).toEqual(["list_elastigroup", "trigger_1"]);
    const field = screen.getByTestId("ref-field") as HTMLSelectElement;
    expect([...field.options].map((o) => o.value)).toEqual(["output", "items", "request_id"]);
    expect(field.value).toBe("output");
  });

  it("writes {{ step.output.key }} when a key is picked in the tree", () => {
    const onChange = vi.fn();
    render(<RefPicker steps={upstream} value={undefined} onChange={onChange} />);
    fireEvent.click(screen.getByTestId("ref-key-.name"));
    expect(onChange).toHaveBeenCalledWith("{{ list_elastigroup.output.name }}");
  });

  it("expands nested objects and brackets keys with dashes", () => {
    const onChange = vi.fn();
    render(<RefPicker steps={upstream} value={undefined} onChange={onChange} />);
    fireEvent.click(screen.getByTestId("ref-key-.capacity.target"));
    expect(onChange).toHaveBeenLastCalledWith("{{ list_elastigroup.output.capacity.target }}");
    fireEvent.click(screen.getByTestId('ref-key-["cost-center"]'));
    expect(onChange).toHaveBeenLastCalledWith('{{ list_elastigroup.output["cost-center"] }}');
    fireEvent.click(screen.getByTestId("ref-toggle-.capacity"));
    expect(screen.queryByTestId("ref-key-.capacity.target")).toBeNull();
  });

  it("switches step and field, with list items as [0]", () => {
    const onChange = vi.fn();
    render(<RefPicker steps={upstream} value={undefined} onChange={onChange} />);
    fireEvent.change(screen.getByTestId("ref-field"), { target: { value: "items" } });
    fireEvent.click(screen.getByTestId("ref-key-[0].name"));
    expect(onChange).toHaveBeenLastCalledWith("{{ list_elastigroup.items[0].name }}");
    fireEvent.change(screen.getByTestId("ref-step"), { target: { value: "trigger_1" } });
    fireEvent.click(screen.getByTestId("ref-key-.Elastigroup_Id"));
    expect(onChange).toHaveBeenLastCalledWith("{{ trigger_1.output.Elastigroup_Id }}");
  });

  it("preselects and highlights the current reference", () => {
    render(<RefPicker steps={upstream} value="{{ trigger_1.output.Account_ID }}" onChange={() => {}} />);
    expect((screen.getByTestId("ref-step") as HTMLSelectElement).value).toBe("trigger_1");
    expect(screen.getByTestId("ref-key-.Account_ID").getAttribute("aria-selected")).toBe("true");
    expect(screen.getByTestId("ref-current").textContent).toBe("{{ trigger_1.output.Account_ID }}");
  });

  it("accepts a typed path when the schema does not know the key", () => {
    const onChange = vi.fn();
    render(<RefPicker steps={upstream} value={undefined} onChange={onChange} />);
    fireEvent.change(screen.getByTestId("ref-custom"), { target: { value: '.tags["team-name"][0]' } });
    fireEvent.click(screen.getByTestId("ref-custom-apply"));
    expect(onChange).toHaveBeenLastCalledWith('{{ list_elastigroup.output.tags["team-name"][0] }}');
    fireEvent.change(screen.getByTestId("ref-custom"), { target: { value: ".a..b" } });
    fireEvent.click(screen.getByTestId("ref-custom-apply"));
    expect(screen.getByText(/Not a valid path/)).toBeTruthy();
  });

  it("says how to get a schema when a trigger output is unknown", () => {
    const steps = [{ id: "trigger_1", label: "t", schema: { type: "object", properties: { output: { type: "object" } } } }];
    render(<RefPicker steps={steps} value={undefined} onChange={() => {}} />);
    expect(screen.getByTestId("ref-tree-empty").textContent).toMatch(/use an alert body as its output schema/);
  });
});
