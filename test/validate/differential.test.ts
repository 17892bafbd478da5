/**
 * A second opinion from Istio itself: `istioctl analyze --use-kube=false` and `istioctl validate`
 * on the same fixtures. Every IST finding istioctl reports must be among ours, with its code as an
 * anchor, unless the exceptions table below says why not.
 *
 * istioctl cannot be installed on every machine (the Go proxy refuses istio.io/istio here), so the
 * suite runs when ISTIOCTL_BIN points at an istioctl 1.30.x binary and is skipped otherwise.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { ValidationResult } from "../../scripts/lib/validate/engine.ts";
import { SEMANTIC_RULES } from "../../scripts/lib/validate/rules/index.ts";
import { FIXTURES, fileInput, filesUnder, pathScope, run } from "./helpers.ts";

const exec = promisify(execFile);
const ISTIOCTL = process.env.ISTIOCTL_BIN;

/** IST codes we do not report, and why. Keep it short; every entry is a gap or a deliberate choice. */
export const EXCEPTIONS: Record<string, string> = {
  IST0102:
    "NamespaceNotInjected is about the live namespace labels of a cluster; chapters add injection labels deliberately late",
  IST0103: "PodMissingProxy needs running pods",
  IST0107:
    "MisplacedAnnotation: annotation checks are not implemented (no offline false positives to fear, just not done yet)",
  IST0108: "UnknownAnnotation: annotation checks are not implemented yet",
  IST0125: "InvalidAnnotation: annotation checks are not implemented yet",
  IST0135: "DeprecatedAnnotation: annotation checks are not implemented yet",
  IST0136: "AlphaAnnotation: annotation checks are not implemented yet",
  IST0116: "DeploymentAssociatedToMultipleServices: not implemented yet",
  IST0137: "DeploymentConflictingPorts: not implemented yet",
  IST0139: "InvalidWebhook: webhooks come from upstream charts, which are not rendered here",
  IST0142: "UnsupportedKubernetesVersion needs the cluster's version",
  IST0146: "ImageAutoWithoutInjectionWarning: depends on live namespace injection state",
  IST0147: "ImageAutoWithoutInjectionError: depends on live namespace injection state",
  IST0158: "PodsIstioProxyImageMismatchInNamespace needs running pods",
  IST0162:
    "GatewayPortNotDefinedOnService: the gateway Service comes from the upstream gateway chart (not rendered)",
  IST0175: "JwksUriFetchUnrestricted is about istiod's configuration, not the manifests",
};

interface IstioMessage {
  code: string;
  level: string;
  message: string;
  origin: string;
}

/** `VirtualService demo/reviews` or the older `VirtualService reviews.demo` -> kind, namespace, name. */
export function parseOrigin(origin: string): { kind: string; namespace?: string; name: string } | undefined {
  const m = /^(\S+)\s+(\S+)$/.exec(origin.trim());
  if (!m) return undefined;
  const [, kind = "", id = ""] = m;
  if (id.includes("/")) {
    const [namespace, name = ""] = id.split("/");
    return { kind, ...(namespace ? { namespace } : {}), name };
  }
  const dot = id.lastIndexOf(".");
  return dot > 0 ? { kind, name: id.slice(0, dot), namespace: id.slice(dot + 1) } : { kind, name: id };
}

async function analyze(files: string[]): Promise<IstioMessage[]> {
  try {
    const { stdout } = await exec(ISTIOCTL!, ["analyze", "--use-kube=false", "-o", "json", ...files], {
      maxBuffer: 64 << 20,
    });
    return JSON.parse(stdout || "[]") as IstioMessage[];
  } catch (e) {
    // analyze exits non-zero when it finds errors; the JSON is still on stdout.
    const out = (e as { stdout?: string }).stdout;
    if (out) return JSON.parse(out) as IstioMessage[];
    throw e;
  }
}

const sets: Array<[string, string[]]> = [
  ["bookinfo", filesUnder(path.join(FIXTURES, "bookinfo"))],
  ...SEMANTIC_RULES.filter((r) => r.anchors.some((a) => a.startsWith("IST"))).map(
    (r) => [`rules/${r.code}`, [path.join(FIXTURES, "rules", r.code, "fail.yaml")]] as [string, string[]],
  ),
];

describe.skipIf(!ISTIOCTL)(
  `differential against istioctl${ISTIOCTL ? "" : " (skipped: set ISTIOCTL_BIN=/path/to/istioctl 1.30.x to run it)"}`,
  () => {
    for (const [name, files] of sets) {
      it(`istioctl analyze on ${name}: every IST finding is among ours`, async () => {
        const theirs = (await analyze(files)).filter(
          (m) => m.code.startsWith("IST") && !(m.code in EXCEPTIONS),
        );
        const ours: ValidationResult = await run([pathScope(files.map((f) => fileInput(f)))]);
        const missing = theirs.filter((m) => {
          const o = parseOrigin(m.origin);
          return !ours.findings.some(
            (f) =>
              f.anchors.includes(m.code) &&
              (!o ||
                (f.resource?.kind === o.kind &&
                  f.resource?.name === o.name &&
                  (o.namespace === undefined || (f.resource?.namespace ?? "default") === o.namespace))),
          );
        });
        expect(
          missing,
          `istioctl found what we did not:\n${missing.map((m) => `${m.code} ${m.origin}: ${m.message}`).join("\n")}`,
        ).toEqual([]);
      });
    }

    it("istioctl validate: every file it rejects, we reject too", async () => {
      const files = [
        ...filesUnder(path.join(FIXTURES, "layers")),
        ...filesUnder(path.join(FIXTURES, "bookinfo")),
      ];
      for (const file of files) {
        let rejected = false;
        try {
          await exec(ISTIOCTL!, ["validate", "-f", file]);
        } catch {
          rejected = true;
        }
        if (!rejected) continue;
        const ours = await run([pathScope([fileInput(file)])], { rules: ["yaml/*", "schema/*", "cel/*"] });
        expect(ours.summary.errors, `${file}: istioctl validate rejects it, we do not`).toBeGreaterThan(0);
      }
    });
  },
);

describe("differential helpers", () => {
  it("parses both forms of istioctl's origin", () => {
    expect(parseOrigin("VirtualService demo/reviews")).toEqual({
      kind: "VirtualService",
      namespace: "demo",
      name: "reviews",
    });
    expect(parseOrigin("DestinationRule reviews.demo")).toEqual({
      kind: "DestinationRule",
      namespace: "demo",
      name: "reviews",
    });
  });

  it("lists a reason for every exception, and no exception for a code we anchor", () => {
    const anchored = new Set(SEMANTIC_RULES.flatMap((r) => r.anchors));
    for (const [code, reason] of Object.entries(EXCEPTIONS)) {
      expect(code).toMatch(/^IST\d{4}$/);
      expect(reason.length).toBeGreaterThan(20);
      expect(anchored.has(code), code).toBe(false);
    }
  });
});
