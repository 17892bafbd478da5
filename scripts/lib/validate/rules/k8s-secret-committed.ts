import { defineRule, type Report } from "../rule.ts";
import { asObj, describe } from "../resource.ts";

export default defineRule({
  code: "k8s/secret-committed",
  layer: "semantic",
  severity: "error",
  anchors: [],
  title: "No Secret with data is committed",
  description:
    "A Secret with `data` or `stringData` in git leaks its content to everyone who can read the repository, forever (history keeps it). Credentials go to the cluster through other means: cert-manager, `pnpm cluster:register`, an external secrets operator.",
  hint: "remove the Secret from git (and rotate the value); create it out of band or with cert-manager / external-secrets",
  check({ index }) {
    const out: Report[] = [];
    for (const s of index.of("Secret")) {
      for (const field of ["data", "stringData"]) {
        const v = asObj(s.object[field]);
        if (Object.keys(v).length === 0) continue;
        out.push({
          resource: s,
          path: [field],
          message: `${describe(s)} carries ${field} (${Object.keys(v).join(", ")}) in git`,
        });
      }
    }
    return out;
  },
});
