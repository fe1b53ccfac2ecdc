// Workflow naming rules (spec §3) checked live in the "New workflow" dialog and settings panel.
export interface RuleCheck {
  id: string;
  label: string;
  ok: boolean;
}

export function nameRules(name: string): RuleCheck[] {
  const len = [...name].length;
  return [
    { id: "length", label: "1 to 128 characters", ok: len >= 1 && len <= 128 },
    { id: "prefix", label: "Does not start with aws, amazon or amz (any letter case)", ok: !/^(aws|amazon|amz)/i.test(name) },
  ];
}

export const nameOk = (name: string) => nameRules(name).every((r) => r.ok) && name.trim().length > 0;
