import { defineRule } from "../rule.ts";
import { conflictingSelectors, multipleSelectorless } from "./selectorless.ts";

export default defineRule({
  code: "telemetry/conflicting",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0160", "IST0159"],
  title: "One Telemetry per namespace without selector, and none selecting the same workload twice",
  description:
    "Several Telemetry resources without selector in one namespace, or with selectors that match the same workload, conflict: only one applies.",
  hint: "merge the Telemetry resources",
  check: ({ index }) => [
    ...multipleSelectorless(index, "Telemetry").map((r) => ({ ...r, anchors: ["IST0160"] })),
    ...conflictingSelectors(index, "Telemetry").map((r) => ({ ...r, anchors: ["IST0159"] })),
  ],
});
