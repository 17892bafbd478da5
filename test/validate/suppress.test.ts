/** Suppressions: the resource annotation and .validate.yaml entries, each only with a reason. */
import { describe, expect, it } from "vitest";
import { parseIgnoreAnnotation } from "../../scripts/lib/validate/suppress.ts";
import { pathScope, run, testConfig } from "./helpers.ts";

const manifest = (annotation?: string) => ({
  file: "mesh/shop.yaml",
  kind: "manifests" as const,
  text: `apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: demo
spec:
  selector: {app: shop}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: shop
  namespace: demo
${annotation ? `  annotations:\n    validate.istio-gitops.dev/ignore: ${JSON.stringify(annotation)}\n` : ""}spec:
  host: shop
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: shop
  namespace: demo
spec:
  hosts: [shop]
  http:
    - route: [{destination: {host: shop, subset: v2}}]
`,
});

const RULES = { rules: ["vs/*", "dr/*", "validate/*"] };
const POD = {
  file: "w.yaml",
  kind: "manifests" as const,
  text: "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: demo, labels: {app: shop, version: v9}}\nspec: {containers: [{name: c, image: x}]}\n",
};

describe("suppressions", () => {
  it("parses one '<rule>: <reason>' per line", () => {
    expect(parseIgnoreAnnotation("vs/subset-not-found: canary next chapter\ndr/*\n")).toEqual([
      { rule: "vs/subset-not-found", reason: "canary next chapter" },
      { rule: "dr/*", reason: "" },
    ]);
  });

  it("without suppression the findings are there", async () => {
    const r = await run([pathScope([manifest()])], RULES);
    expect(r.findings.map((f) => f.rule)).toEqual(["vs/subset-not-found"]);
  });

  it("an annotation with a reason suppresses findings on its resource only", async () => {
    const plain = await run([pathScope([manifest(), POD])], RULES);
    expect(plain.findings.map((f) => f.rule)).toEqual(["dr/subset-no-workload", "vs/subset-not-found"]);
    const r = await run(
      [
        pathScope([
          manifest(
            "vs/subset-not-found: on the wrong resource\ndr/*: subsets are declared ahead of the rollout",
          ),
          POD,
        ]),
      ],
      RULES,
    );
    // The VirtualService carries no annotation: its finding stays.
    expect(r.findings.map((f) => f.rule)).toEqual(["vs/subset-not-found"]);
    expect(r.summary.suppressed).toBe(1);
  });

  it("an annotation without a reason is not applied and is itself an error", async () => {
    const r = await run([pathScope([manifest("dr/subset-no-workload")])], RULES);
    expect(r.findings.map((f) => f.rule).sort()).toEqual(["vs/subset-not-found"]);
    const withWorkloads = await run([pathScope([manifest("dr/subset-no-workload"), POD])], RULES);
    expect(withWorkloads.findings.map((f) => f.rule).sort()).toEqual([
      "dr/subset-no-workload",
      "validate/suppression",
      "vs/subset-not-found",
    ]);
    const s = withWorkloads.findings.find((f) => f.rule === "validate/suppression")!;
    expect(s.line).toBe(16);
  });

  it("a .validate.yaml entry suppresses by rule and resource or file glob, and is counted", async () => {
    const byResource = await run(
      [pathScope([manifest()])],
      RULES,
      testConfig({
        suppressions: [
          { rule: "vs/*", resource: "VirtualService/demo/shop", reason: "v2 arrives with the next chapter" },
        ],
      }),
    );
    expect(byResource.findings).toEqual([]);
    expect(byResource.summary.suppressed).toBe(1);
    const byFile = await run(
      [pathScope([manifest()])],
      RULES,
      testConfig({
        suppressions: [
          { rule: "vs/subset-not-found", file: "mesh/**", reason: "v2 arrives with the next chapter" },
        ],
      }),
    );
    expect(byFile.findings).toEqual([]);
    const elsewhere = await run(
      [pathScope([manifest()])],
      RULES,
      testConfig({
        suppressions: [{ rule: "vs/subset-not-found", file: "apps/**", reason: "not this file" }],
      }),
    );
    expect(elsewhere.findings.map((f) => f.rule)).toEqual(["vs/subset-not-found"]);
  });
});
