import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";
import { labelSelectorMatches } from "./k8s-image-auto-without-injection.ts";

const zero = (v: unknown) => v === 0 || v === "0%" || v === "0";

export default defineRule({
  code: "k8s/rollout-stuck",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "Deployments can be rolled out",
  description:
    "What the API server refuses in a Deployment, which no schema says and so neither kubeconform nor a dry run without a cluster catches; Argo CD's sync then fails on every attempt: `maxSurge` and `maxUnavailable` both 0 (no pod could ever be replaced), `rollingUpdate` with `type: Recreate`, `progressDeadlineSeconds` not above `minReadySeconds` (every rollout would count as stalled), and a `selector` that does not match the pod template's labels. (Percentages that round to 0 are not an error: the controller then takes one pod down at a time.)",
  hint: "allow maxSurge: 1 (or maxUnavailable: 1); keep the selector a subset of the template labels",
  check({ index }) {
    const out: Report[] = [];
    for (const d of index.of("Deployment")) {
      const spec = asObj(d.object.spec);
      const strategy = asObj(spec.strategy);
      const ru = asObj(strategy.rollingUpdate);
      const say = (path: Array<string | number>, message: string) =>
        out.push({ resource: d, path, message: `${describe(d)} ${message}` });
      if (strategy.type === "Recreate" && strategy.rollingUpdate !== undefined)
        say(
          ["spec", "strategy", "rollingUpdate"],
          "sets rollingUpdate with strategy Recreate, which the API server refuses",
        );
      else if (zero(ru.maxSurge) && zero(ru.maxUnavailable))
        say(
          ["spec", "strategy", "rollingUpdate"],
          "allows neither a surge pod nor an unavailable one (both 0): no pod could ever be replaced, and the API server refuses it",
        );
      const deadline = spec.progressDeadlineSeconds;
      const minReady = spec.minReadySeconds;
      if (typeof deadline === "number" && typeof minReady === "number" && deadline <= minReady)
        say(
          ["spec", "progressDeadlineSeconds"],
          `has progressDeadlineSeconds ${deadline} not above minReadySeconds ${minReady}: every rollout would stall`,
        );
      const labels = asObj(asObj(asObj(spec.template).metadata).labels) as Record<string, string>;
      if (spec.selector !== undefined && !labelSelectorMatches(spec.selector, labels))
        say(
          ["spec", "selector"],
          "has a selector that does not match its pod template's labels: the API server refuses it",
        );
    }
    return out;
  },
});
