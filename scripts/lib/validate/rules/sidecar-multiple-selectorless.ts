import { defineRule } from "../rule.ts";
import { multipleSelectorless } from "./selectorless.ts";

export default defineRule({
  code: "sidecar/multiple-selectorless",
  layer: "semantic",
  severity: "error",
  anchors: ["IST0111", "KIA0002"],
  title: "At most one Sidecar without workloadSelector per namespace",
  description:
    "A namespace has one default Sidecar (without `workloadSelector`). With two, Istio picks one and ignores the other.",
  hint: "merge them into one default Sidecar, or give one a workloadSelector",
  check: ({ index }) => multipleSelectorless(index, "Sidecar"),
});
