/**
 * CEL rules cannot run for minutes: RE2 semantics for `matches`, and the Kubernetes cost model
 * (static estimate per rule and per CRD from maxItems / maxLength, runtime cost per evaluation
 * and per object), each limit a finding at the rule, as the API server would refuse it.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { CelValidator, withRe2Matches } from "../../scripts/lib/validate/cel.ts";
import { COST_LIMITS } from "../../scripts/lib/validate/cel-cost.ts";
import { CRD_DIR, pathScope, run } from "./helpers.ts";

const text = (file: string, body: string) => ({ file, text: body, kind: "manifests" as const });

/** A CRD of kind Widget (example.dev/v1) whose spec carries the given rule and list bounds. */
function crd(rule: string, items: { maxItems?: number; maxLength?: number } = {}): string {
  const itemBounds =
    items.maxLength !== undefined ? `\n                    maxLength: ${items.maxLength}` : "";
  const listBounds = items.maxItems !== undefined ? `\n                  maxItems: ${items.maxItems}` : "";
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.dev
spec:
  group: example.dev
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              x-kubernetes-validations:
                - rule: ${JSON.stringify(rule)}
                  message: widget rule
              properties:
                name:
                  type: string
                  maxLength: 64
                items:
                  type: array${listBounds}
                  items:
                    type: string${itemBounds}
`;
}

const widget = (spec: object) =>
  `apiVersion: example.dev/v1\nkind: Widget\nmetadata: {name: w, namespace: default}\nspec: ${JSON.stringify(spec)}\n`;

async function validate(crdText: string, widgetText: string) {
  const started = performance.now();
  const r = await run([pathScope([text("crd.yaml", crdText), text("widget.yaml", widgetText)])], {
    rules: ["cel/*"],
  });
  return { findings: r.findings, ms: performance.now() - started };
}

describe("CEL cost and time bounds", () => {
  it("evaluates matches() with RE2: a backtracking pattern on 40 a's and a '!' is instant", async () => {
    const r = await validate(crd("self.name.matches('^(a+)+$')"), widget({ name: `${"a".repeat(40)}!` }));
    expect(r.ms).toBeLessThan(10_000);
    expect(r.findings.map((f) => `${f.rule} ${f.file}:${f.line}`)).toEqual(["cel/rule widget.yaml:4"]);
    // String literals are left alone; calls are renamed, with or without a receiver.
    expect(withRe2Matches(`self.a.matches('x.matches(') && matches(self.b, "y")`)).toBe(
      `self.a.re2Matches('x.matches(') && re2Matches(self.b, "y")`,
    );
  });

  it("a nested all() over an unbounded list is over the static limit: a finding at the rule, not evaluated", async () => {
    const rule = "self.items.all(x, self.items.all(y, x == y || x != y))";
    const items = Array.from({ length: 400 }, (_, i) => `item-${i}`);
    const r = await validate(crd(rule), widget({ name: "w", items }));
    expect(r.ms).toBeLessThan(10_000);
    const cost = r.findings.filter((f) => f.rule === "cel/cost");
    // At the rule in the CRD (the API server refuses the CRD) and at the object (not evaluated).
    // The version's total is over too (one such rule is more than 100,000,000 on its own).
    expect(cost.map((f) => `${f.file}:${f.line}`)).toEqual([
      "crd.yaml:14",
      "crd.yaml:20",
      "widget.yaml:1",
      "widget.yaml:4",
    ]);
    expect(cost[0]!.message).toMatch(/StaticEstimatedCRDCostLimit/);
    expect(cost[1]!.message).toMatch(/StaticEstimatedCostLimit/);
    expect(cost[3]!.message).toMatch(/not evaluated/);
  });

  it("with maxItems the same rule is within the static limit and evaluates; an object over the per-call limit is refused", async () => {
    const rule = "self.items.all(x, self.items.all(y, x == y || x != y))";
    const small = await validate(
      crd(rule, { maxItems: 900, maxLength: 16 }),
      widget({ name: "w", items: ["a", "b", "c"] }),
    );
    expect(small.findings).toEqual([]);
    const big = await validate(
      crd(rule, { maxItems: 900, maxLength: 16 }),
      widget({ name: "w", items: Array.from({ length: 900 }, (_, i) => `i${i}`) }),
    );
    expect(big.ms).toBeLessThan(10_000);
    expect(big.findings.map((f) => f.rule)).toEqual(["cel/cost"]);
    expect(big.findings[0]!.message).toMatch(/PerCallLimit/);
  });

  it("an object whose rules together cost more than RuntimeCELCostBudget stops being evaluated", () => {
    const cel = new CelValidator([], "1.36.0");
    // Twenty rules of about 630,000 each: every one within PerCallLimit, together over 10,000,000.
    const rules = Array.from({ length: 20 }, (_, i) => ({
      rule: `self.items.all(x, self.items.all(y, x == y || x != '${i}'))`,
    }));
    cel.addCrd({
      kind: "CustomResourceDefinition",
      spec: {
        group: "example.dev",
        names: { kind: "Widget" },
        versions: [
          {
            name: "v1",
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  spec: {
                    type: "object",
                    "x-kubernetes-validations": rules,
                    properties: {
                      items: { type: "array", maxItems: 300, items: { type: "string", maxLength: 8 } },
                    },
                  },
                },
              },
            },
          },
        ],
      },
    });
    const items = Array.from({ length: 300 }, (_, i) => `i${i}`);
    const problems = cel.validate({
      group: "example.dev",
      kind: "Widget",
      apiVersion: "example.dev/v1",
      object: { spec: { items } },
    } as unknown as Parameters<CelValidator["validate"]>[0]);
    expect(problems.map((p) => p.code)).toEqual(["cel/cost"]);
    expect(problems[0]!.message).toMatch(/RuntimeCELCostBudget/);
  });

  it("keeps every rule of Istio's own CRDs within the limits (the API server installs them)", () => {
    const cel = new CelValidator([], "1.36.0");
    const over: string[] = [];
    let rules = 0;
    for (const file of readdirSync(CRD_DIR).filter((f) => /\.ya?ml$/.test(f))) {
      for (const doc of parseAllDocuments(readFileSync(path.join(CRD_DIR, file), "utf8"))) {
        const value = doc.toJS({ maxAliasCount: 100 }) as { kind?: string } | null;
        if (value?.kind !== "CustomResourceDefinition") continue;
        rules += (JSON.stringify(value).match(/"rule":/g) ?? []).length;
        for (const p of cel.crdCostProblems(value)) over.push(`${file} ${p.path.join(".")}: ${p.message}`);
      }
    }
    expect(rules).toBeGreaterThan(20);
    expect(over).toEqual([]);
    expect(COST_LIMITS).toEqual({
      perExpression: 10_000_000,
      perCrd: 100_000_000,
      perCall: 1_000_000,
      perObject: 10_000_000,
    });
  });
});
