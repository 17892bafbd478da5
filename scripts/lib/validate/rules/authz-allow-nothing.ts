import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";
import { actionOf } from "./authz-util.ts";

export default defineRule({
  code: "authz/empty-rules",
  layer: "semantic",
  severity: "warning",
  anchors: [],
  title: "An ALLOW policy's rule list is not written empty",
  description:
    "An ALLOW policy with `rules: []` has no rule, so it matches no request: with it in place, every request to the selected workloads that no other ALLOW policy matches is denied. That is Istio's allow-nothing policy, usually written `spec: {}`; written as an empty list it looks like an allow-all (which is `rules: [{}]`).",
  hint: "write `rules: [{}]` to allow everything, add the rules, or write `spec: {}` for a deliberate allow-nothing",
  check({ index }) {
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      const spec = asObj(ap.object.spec);
      if (actionOf(ap) !== "ALLOW" || !Array.isArray(spec.rules) || spec.rules.length > 0) continue;
      out.push({
        resource: ap,
        path: ["spec", "rules"],
        message: `${describe(ap)} is an ALLOW policy with an empty rule list: it allows nothing, so it denies every request no other ALLOW policy matches`,
      });
    }
    return out;
  },
});
