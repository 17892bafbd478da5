import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

export default defineRule({
  code: "authz/wrong-method",
  layer: "semantic",
  severity: "warning",
  anchors: ["KIA0102"],
  title: "AuthorizationPolicy methods are HTTP methods",
  description:
    "`to.operation.methods` compares with the HTTP method, case-sensitively: `get` or `READ` never match. (For gRPC, the method is always POST.)",
  hint: "use upper-case HTTP methods such as GET or POST, or `*`",
  check({ index }) {
    const out: Report[] = [];
    for (const ap of index.of("AuthorizationPolicy")) {
      asArray(asObj(ap.object.spec).rules).forEach((rule, i) => {
        asArray(asObj(rule).to).forEach((t, j) => {
          const op = asObj(asObj(t).operation);
          for (const field of ["methods", "notMethods"]) {
            asArray(op[field]).forEach((m, k) => {
              if (typeof m !== "string" || m.includes("*") || METHODS.has(m)) return;
              out.push({
                resource: ap,
                path: ["spec", "rules", i, "to", j, "operation", field, k],
                message: `${describe(ap)} method '${m}' is not an HTTP method`,
              });
            });
          }
        });
      });
    }
    return out;
  },
});
