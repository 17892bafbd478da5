import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

export default defineRule({
  code: "authz/namespace-not-found",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0101"],
  title: "AuthorizationPolicy source namespaces exist",
  description:
    "`source.namespaces` must name namespaces that exist (wildcards are not checked). In path mode checked only when the files contain Namespace objects.",
  hint: "fix the namespace name",
  check({ index }) {
    if (!index.knows("Namespace")) return [];
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      asArray(asObj(ap.object.spec).rules).forEach((rule, i) => {
        asArray(asObj(rule).from).forEach((f, j) => {
          const src = asObj(asObj(f).source);
          for (const field of ["namespaces", "notNamespaces"]) {
            asArray(src[field]).forEach((ns, k) => {
              if (typeof ns !== "string" || ns.includes("*") || index.hasNamespace(ns)) return;
              out.push({
                resource: ap,
                path: ["spec", "rules", i, "from", j, "source", field, k],
                message: `${describe(ap)} refers to namespace '${ns}', which does not exist`,
              });
            });
          }
        });
      });
    }
    return out;
  },
});
