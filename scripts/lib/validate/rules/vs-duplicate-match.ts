import { defineRule, type Report } from "../rule.ts";
import { asArray, asObj, describe } from "../resource.ts";
import { matchKey } from "./vs-unreachable-rule.ts";

export default defineRule({
  code: "vs/duplicate-match",
  layer: "semantic",
  severity: "info",
  anchors: ["IST0131"],
  title: "A match clause does not repeat an earlier clause",
  description:
    "A match clause identical to a clause of an earlier route (or earlier in the same route) never takes effect, although the route may still be reached through its other clauses.",
  hint: "remove the duplicate clause",
  check({ index }) {
    const out: Report[] = [];
    for (const vs of index.of("VirtualService")) {
      const http = asArray(asObj(vs.object.spec).http).map(asObj);
      const seen = new Map<string, number>();
      http.forEach((r, i) => {
        const matches = asArray(r.match);
        const keys = matches.map(matchKey);
        const allSeen = keys.length > 0 && keys.every((k) => seen.has(k));
        keys.forEach((k, j) => {
          const prev = seen.get(k);
          // A route whose every clause is shadowed is vs/unreachable-rule's finding.
          if (prev !== undefined && !allSeen) {
            out.push({
              resource: vs,
              path: ["spec", "http", i, "match", j],
              message: `${describe(vs)} http[${i}].match[${j}] repeats a match of http[${prev}]`,
            });
          }
        });
        keys.forEach((k) => {
          if (!seen.has(k)) seen.set(k, i);
        });
      });
    }
    return out;
  },
});
