import { defineRule } from "../rule.ts";
import { conflictingSelectors } from "./selectorless.ts";

export default defineRule({
  code: "sidecar/conflicting-selectors",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0110", "KIA0003"],
  title: "No workload is selected by two Sidecars",
  description:
    "When two Sidecars with a workloadSelector select the same pods, Istio applies only one of them.",
  hint: "make the selectors disjoint, or merge the Sidecars",
  check: ({ index }) => conflictingSelectors(index, "Sidecar"),
});
