/**
 * A second opinion from Istio itself: the pinned `istioctl analyze --use-kube=false
 * --all-namespaces` and `istioctl validate` on the same files as ours (every rule fixture,
 * Bookinfo, and every cluster at every chapter as rendered in memory). Every IST finding
 * istioctl reports must be among ours, on the same resource, with its code as an anchor, unless
 * the exceptions below say why not.
 *
 * The binary comes from the tool resolver (ISTIOCTL_BIN, PATH, the tool cache). `.ci/run`
 * installs it, and under CI (CI set) a missing istioctl fails the suite instead of skipping it.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { resolveTool } from "../../scripts/lib/tools/resolve.ts";
import type { ValidationFinding, ValidationResult } from "../../scripts/lib/validate/engine.ts";
import { collectRepo } from "../../scripts/lib/validate/repo-mode.ts";
import { PEER_CODES } from "../../scripts/lib/validate/coverage.ts";
import { SEMANTIC_RULES } from "../../scripts/lib/validate/rules/index.ts";
import { FIXTURES, fileInput, filesUnder, pathScope, REPO_ROOT, run, testConfig } from "./helpers.ts";

const exec = promisify(execFile);
const ISTIOCTL = await resolveTool("istioctl", { install: false }).catch((e: unknown) => {
  if (process.env.CI) throw e;
  return undefined;
});

/**
 * IST codes we do not report, and why: the coverage table's reasons (coverage.ts), so that the
 * table in README.md and this comparison cannot disagree. Every entry is a gap or a deliberate choice.
 */
export const EXCEPTIONS: Record<string, string> = Object.fromEntries(
  Object.entries(PEER_CODES)
    .filter(([code, [, reason]]) => code.startsWith("IST") && reason)
    .map(([code, [, reason]]) => [code, reason]),
);

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

/**
 * Findings of a code we do report, where istioctl says something we deliberately say differently.
 * Each applies only when its test holds for that one message.
 */
export const PARTIAL_EXCEPTIONS: Array<{
  code: string;
  reason: string;
  /** `objects`: every document of the files istioctl analyzed. */
  applies: (m: IstioMessage, ours: readonly ValidationFinding[], objects: readonly unknown[]) => boolean;
}> = [
  {
    code: "IST0132",
    reason:
      "for a gateway that does not exist istioctl also says the host is not in it; we report the missing gateway (vs/gateway-not-found, IST0101) once",
    applies: (m, ours) => {
      const o = parseOrigin(m.origin);
      return ours.some((f) => f.rule === "vs/gateway-not-found" && sameResource(f, o));
    },
  },
  ...(["IST0101", "IST0132"] as const).map((code) => ({
    code,
    reason:
      "istioctl's analyzer does not resolve a gateway written as a host name (`name.ns.svc.cluster.local`), which istiod binds as `ns/name` (pilot/pkg/model/config.go, resolveGatewayName); we report the legacy form (vs/gateway-dotted-name) instead of a missing gateway",
    applies: (m: IstioMessage, ours: readonly ValidationFinding[]) => {
      const o = parseOrigin(m.origin);
      return ours.some((f) => {
        const raw = /names gateway '([^']+)'/.exec(f.message)?.[1];
        return f.rule === "vs/gateway-dotted-name" && sameResource(f, o) && !!raw && m.message.includes(raw);
      });
    },
  })),
  {
    code: "IST0133",
    reason:
      "istioctl's caution on every EnvoyFilter ('exposes internal implementation details') says nothing about the manifest",
    applies: (m) => m.origin.startsWith("EnvoyFilter ") && /internal implementation details/.test(m.message),
  },
  {
    code: "IST0160",
    reason:
      "istioctl counts a Telemetry attached by targetRef(s) (to a Gateway or Service) as one without selector; it does not apply to the namespace's sidecars, so we do not",
    applies: (m, _ours, objects) => {
      const o = parseOrigin(m.origin);
      const names = /Telemetries \[([^\]]*)\]/.exec(m.message)?.[1]?.split(" ") ?? [];
      const selectorless = names.filter((name) =>
        objects.some((x) => {
          const t = x as {
            kind?: string;
            metadata?: { name?: string; namespace?: string };
            spec?: Record<string, unknown>;
          };
          return (
            t.kind === "Telemetry" &&
            t.metadata?.name === name &&
            (t.metadata?.namespace ?? "default") === (o?.namespace ?? "default") &&
            !t.spec?.targetRef &&
            !t.spec?.targetRefs
          );
        }),
      );
      return selectorless.length < 2;
    },
  },
];

function sameResource(f: ValidationFinding, o: ReturnType<typeof parseOrigin>): boolean {
  if (!o) return true;
  if (f.resource?.kind !== o.kind) return false;
  if (
    f.resource.name === o.name &&
    (o.namespace === undefined || (f.resource.namespace ?? "default") === o.namespace)
  )
    return true;
  // A cluster-scoped object's name has dots of its own (a CRD's `plural.group`): not `name.namespace`.
  return f.resource.namespace === undefined && f.resource.name === `${o.name}.${o.namespace ?? ""}`;
}

async function analyze(files: string[]): Promise<IstioMessage[]> {
  const args = ["analyze", "--use-kube=false", "--all-namespaces", "-o", "json", ...files];
  try {
    const { stdout } = await exec(ISTIOCTL!, args, { maxBuffer: 64 << 20 });
    return JSON.parse(stdout || "[]") as IstioMessage[];
  } catch (e) {
    // analyze exits non-zero when it finds errors; the JSON is still on stdout.
    const out = (e as { stdout?: string }).stdout;
    if (out) return JSON.parse(out) as IstioMessage[];
    throw e;
  }
}

/**
 * istioctl's IST messages sorted three ways: `matched` by one of our findings (same code as an
 * anchor, same resource), `excepted` by the tables above, and `missing`: the ones that fail the test.
 */
export function compare(
  theirs: readonly IstioMessage[],
  ours: readonly ValidationFinding[],
  objects: readonly unknown[] = [],
): { matched: IstioMessage[]; excepted: IstioMessage[]; missing: IstioMessage[] } {
  const out = {
    matched: [] as IstioMessage[],
    excepted: [] as IstioMessage[],
    missing: [] as IstioMessage[],
  };
  for (const m of theirs) {
    if (!m.code.startsWith("IST")) continue;
    if (ours.some((f) => f.anchors.includes(m.code) && sameResource(f, parseOrigin(m.origin))))
      out.matched.push(m);
    else if (
      m.code in EXCEPTIONS ||
      PARTIAL_EXCEPTIONS.some((x) => x.code === m.code && x.applies(m, ours, objects))
    )
      out.excepted.push(m);
    else out.missing.push(m);
  }
  return out;
}

/** Every document of the given YAML texts (for the exceptions that look at the manifests). */
function objectsOf(texts: readonly string[]): unknown[] {
  return texts.flatMap((t) => parseAllDocuments(t).map((d) => d.toJS() as unknown));
}

/** What we found, including what a suppression with a reason set aside (we did find it). */
const reported = (r: ValidationResult) => [...r.findings, ...(r.suppressed ?? [])];

const show = (ms: IstioMessage[]) => ms.map((m) => `${m.code} ${m.origin}: ${m.message}`).join("\n");

const ruleSets: Array<[string, string[]]> = [
  ["bookinfo", filesUnder(path.join(FIXTURES, "bookinfo"))],
  ["helloworld", filesUnder(path.join(FIXTURES, "samples", "helloworld"))],
  ["multicluster samples", filesUnder(path.join(FIXTURES, "samples", "multicluster"))],
  ["Gateway API samples", filesUnder(path.join(FIXTURES, "samples", "gateway-api"))],
  ...SEMANTIC_RULES.flatMap((r) =>
    (["fail", "pass"] as const).map(
      (kind) =>
        [`rules/${r.code} (${kind})`, [path.join(FIXTURES, "rules", r.code, `${kind}.yaml`)]] as [
          string,
          string[],
        ],
    ),
  ),
];

describe.skipIf(!ISTIOCTL)(
  `differential against istioctl${ISTIOCTL ? "" : " (skipped: run `pnpm tools istioctl`, or set ISTIOCTL_BIN to an istioctl 1.30.x)"}`,
  () => {
    /** Per code: how many istioctl findings our own findings matched (exceptions not counted). */
    const agreed = new Map<string, number>();
    const tally = (matched: IstioMessage[]) => {
      for (const m of matched) agreed.set(m.code, (agreed.get(m.code) ?? 0) + 1);
    };

    for (const [name, files] of ruleSets) {
      it(`istioctl analyze on ${name}: every IST finding is among ours`, async () => {
        const theirs = await analyze(files);
        const inputs = files.map((f) => fileInput(f));
        const ours = reported(await run([pathScope(inputs)]));
        const { missing, matched } = compare(theirs, ours, objectsOf(inputs.map((i) => i.text)));
        expect(missing, `istioctl found what we did not:\n${show(missing)}`).toEqual([]);
        tally(matched);
      });
    }

    describe("every cluster at every chapter, as rendered", async () => {
      const config = testConfig();
      const { scopes } = await collectRepo(REPO_ROOT, config);
      const chapters = scopes.filter((s) => s.context);
      let tmp: string | undefined;
      afterAll(async () => {
        if (tmp) await rm(tmp, { recursive: true, force: true });
      });

      it("renders every cluster at every chapter", () => {
        expect(chapters.length).toBeGreaterThanOrEqual(2 * 20);
      });

      for (const scope of chapters) {
        it(`istioctl analyze on ${scope.context}: every IST finding is among ours`, async () => {
          tmp ??= await mkdtemp(path.join(os.tmpdir(), "differential-"));
          const dir = path.join(tmp, scope.context!.replace(/\W+/g, "-"));
          const files: string[] = [];
          for (const f of scope.files) {
            if (f.kind !== "manifests") continue;
            const out = path.join(dir, f.file);
            await mkdir(path.dirname(out), { recursive: true });
            await writeFile(out, f.text);
            files.push(out);
          }
          const theirs = await analyze(files);
          const ours = reported(await run([scope], {}, config));
          const { missing, matched } = compare(
            theirs,
            ours,
            objectsOf(scope.files.filter((f) => f.kind === "manifests").map((f) => f.text)),
          );
          expect(missing, `istioctl found what we did not:\n${show(missing)}`).toEqual([]);
          tally(matched);
        });
      }
    });

    // Measured with the pinned istioctl (release-1.30) over everything above (rule fixtures,
    // samples, every cluster x chapter): 57 findings over 17 codes, up from 33 over 13 before the
    // Gateway API, Ambient, webhook and IST0175 rules (IST0164, IST0165, IST0175, IST0176 are new
    // agreements). This istioctl analyzes only Istio kinds from files (no Service, Deployment,
    // Namespace or Pod analyzers run with --use-kube=false), so the codes of the Kubernetes-side
    // rules (IST0116, IST0118, IST0123, IST0137, IST0144, IST0146, IST0150, IST0162), of the
    // annotation values (IST0125), the mesh networks (IST0126) and the Ambient Sidecar check
    // (IST0167) never show up here; IST0177 is newer than release-1.30.
    it("agrees with istioctl on many findings, of many codes (the comparison is not vacuous)", () => {
      const total = [...agreed.values()].reduce((a, b) => a + b, 0);
      expect(total, JSON.stringify(Object.fromEntries(agreed))).toBeGreaterThanOrEqual(57);
      expect(agreed.size, JSON.stringify(Object.fromEntries(agreed))).toBeGreaterThanOrEqual(17);
    });

    it("istioctl validate: every file it rejects, we flag too (error or warning)", async () => {
      const files = [
        ...filesUnder(path.join(FIXTURES, "layers")),
        ...filesUnder(path.join(FIXTURES, "bookinfo")),
        ...ruleSets.flatMap(([, f]) => f).filter((f) => f.includes(`${path.sep}rules${path.sep}`)),
      ];
      let rejectedByIstio = 0;
      for (const file of files) {
        let rejected = false;
        try {
          await exec(ISTIOCTL!, ["validate", "-f", file]);
        } catch {
          rejected = true;
        }
        if (!rejected) continue;
        rejectedByIstio++;
        const ours = await run([pathScope([fileInput(file)])]);
        // istioctl validate rejects what analyze rates Info (port names, IST0118); we warn there.
        expect(
          ours.summary.errors + ours.summary.warnings,
          `${file}: istioctl validate rejects it, we report nothing`,
        ).toBeGreaterThan(0);
      }
      expect(rejectedByIstio, "istioctl validate rejected too few of the broken fixtures").toBeGreaterThan(3);
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
    for (const x of PARTIAL_EXCEPTIONS) expect(x.reason.length).toBeGreaterThan(20);
    for (const [code, reason] of Object.entries(EXCEPTIONS)) {
      expect(code).toMatch(/^IST\d{4}$/);
      expect(reason.length).toBeGreaterThan(20);
      expect(anchored.has(code), code).toBe(false);
    }
  });
});
