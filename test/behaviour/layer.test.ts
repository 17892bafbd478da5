import { createPublicKey, createVerify } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  findingsOf,
  runBehaviour,
  scanRender,
  simInputOf,
  type BehaviourScope,
} from "../../scripts/lib/behaviour/layer.ts";
import {
  makeTestKeys,
  parseRequestUrl,
  signJwt,
  TEST_KEY_ID,
  toSimRequest,
} from "../../scripts/lib/behaviour/request.ts";
import type { SimOutput } from "../../scripts/lib/behaviour/protocol.ts";
import type { ExpectRequest } from "../../scripts/lib/model/types.ts";

const keys = makeTestKeys();
const NOW = 1_900_000_000;

function verifies(token: string): boolean {
  const [h, b, s] = token.split(".");
  const jwk = (JSON.parse(keys.jwks) as { keys: Array<Record<string, unknown>> }).keys[0]!;
  const v = createVerify("RSA-SHA256");
  v.update(`${h}.${b}`);
  return v.verify(createPublicKey({ key: jwk as never, format: "jwk" }), Buffer.from(s!, "base64url"));
}
const claimsOf = (t: string) =>
  JSON.parse(Buffer.from(t.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;

const REQ = (over: Partial<ExpectRequest> = {}): ExpectRequest => ({
  name: "alice-green",
  lesson: "alice's token routes her to the green portal",
  from: { kind: "gateway", namespace: "istio-ingress", name: "istio-ingress" },
  request: { url: "https://portal.workshop.example/", jwt: { claims: { sub: "alice", group: "admins" } } },
  then: { route: "admins-by-jwt-claim", subset: "green" },
  file: "chapters/15-jwt/chapter.yaml",
  chapter: "15-jwt",
  position: { file: "chapters/15-jwt/chapter.yaml", line: 40, column: 13 },
  thenPositions: { route: { file: "chapters/15-jwt/chapter.yaml", line: 47, column: 9 } },
  ...over,
});

const RA = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: ingress-jwt
  namespace: istio-ingress
spec:
  jwtRules:
    - issuer: https://auth-service.workshop
      jwksUri: http://auth-service.workshop.svc.cluster.local/.well-known/jwks.json
`;
const CM = `apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |-
    outboundTrafficPolicy:
      mode: REGISTRY_ONLY
`;
const scope = (requests: ExpectRequest[]): BehaviourScope => ({
  cluster: "primary",
  chapter: "15-jwt",
  chapterFile: "chapters/15-jwt/chapter.yaml",
  context: "cluster primary at chapter 15-jwt",
  clusterDomain: "cluster.local",
  files: [
    { file: "clusters/primary/rendered/mesh/istio-ingress/requestauthentication-ingress-jwt.yaml", text: RA },
    { file: "clusters/primary/rendered/platform/istiod/istio-system/configmap-istio.yaml", text: CM },
    {
      file: "clusters/primary/rendered/argocd/mesh.yaml",
      text: "apiVersion: argoproj.io/v1alpha1\nkind: Application\n",
    },
  ],
  expectations: { clients: [], requests },
});

describe("requests and tokens", () => {
  it("parses request URLs with default ports", () => {
    expect(parseRequestUrl("http://content-generator/delay?ms=10")).toEqual({
      protocol: "http",
      host: "content-generator",
      port: 80,
      path: "/delay?ms=10",
    });
    expect(parseRequestUrl("https://portal.workshop.example")).toMatchObject({ port: 443, path: "/" });
    expect(parseRequestUrl("tcp://redis:6379")).toMatchObject({ protocol: "tcp", port: 6379 });
  });

  it("signs valid, forged and expired tokens; the JWKS verifies only the valid ones", () => {
    const good = signJwt({ claims: { sub: "alice" } }, keys, NOW, "https://iss");
    expect(verifies(good)).toBe(true);
    expect(claimsOf(good)).toMatchObject({ iss: "https://iss", sub: "alice", exp: NOW + 3600 });
    expect(JSON.parse(Buffer.from(good.split(".")[0]!, "base64url").toString())).toMatchObject({
      kid: TEST_KEY_ID,
      alg: "RS256",
    });
    expect(verifies(signJwt({ forged: true, claims: {} }, keys, NOW))).toBe(false);
    const expired = signJwt({ expired: true }, keys, NOW);
    expect(verifies(expired)).toBe(true);
    expect(claimsOf(expired).exp).toBe(NOW - 3600);
  });

  it("turns headers, cookies and the token into the helper's request", () => {
    const r = toSimRequest(
      REQ({
        request: {
          url: "https://portal.workshop.example/",
          headers: { "X-Workshop-Group": "admins" },
          cookies: { "portal-color": "green" },
          jwt: { cookie: "workshop_session" },
        },
      }),
      keys,
      NOW,
    );
    expect(r).toMatchObject({
      id: "alice-green",
      protocol: "https",
      host: "portal.workshop.example",
      port: 443,
      method: "GET",
      from: { kind: "gateway" },
    });
    expect(r.headers["x-workshop-group"]).toBe("admins");
    expect(r.headers.cookie).toMatch(/^portal-color=green; workshop_session=ey/);
    expect(r.headers.authorization).toBeUndefined();
  });
});

describe("the helper's input", () => {
  it("holds the cluster's objects (not Argo CD's), the mesh config, the JWKS per issuer; its key ignores the per-run key", () => {
    expect(scanRender(scope([]).files)).toEqual({
      issuers: ["https://auth-service.workshop"],
      meshConfig: { outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } },
    });
    const { input, key } = simInputOf(scope([REQ()]), keys, NOW);
    expect(input.objects).toContain("kind: RequestAuthentication");
    expect(input.objects).not.toContain("kind: Application");
    expect(input.meshConfig).toEqual({ outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } });
    expect(Object.keys(input.jwks)).toEqual(["https://auth-service.workshop"]);
    const token = input.requests[0]!.headers.authorization!.slice("Bearer ".length);
    expect(claimsOf(token).iss).toBe("https://auth-service.workshop");
    expect(verifies(token)).toBe(true);
    expect(simInputOf(scope([REQ()]), makeTestKeys(), NOW + 5).key).toBe(key);
    expect(
      simInputOf(
        scope([REQ({ request: { url: "https://portal.workshop.example/", jwt: { forged: true } } })]),
        keys,
        NOW,
      ).key,
    ).not.toBe(key);
  });
  it("computes the key without signing anything: a cached answer never needs the run's keys", () => {
    const untouchable = {
      get signing(): never {
        throw new Error("signed");
      },
      get forging(): never {
        throw new Error("signed");
      },
      get jwks(): never {
        throw new Error("signed");
      },
    };
    const sim = simInputOf(scope([REQ()]), untouchable, NOW);
    expect(sim.key).toBe(simInputOf(scope([REQ()]), keys, NOW).key);
    expect(() => sim.input).toThrow("signed");
  });

  it("leaves out what the helper does not read (CRDs, other ConfigMaps), so that they neither cost nor change the key", () => {
    const crd = (desc: string) => ({
      file: "clusters/primary/rendered/platform/kps/customresourcedefinition-prometheuses.yaml",
      text: `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: prometheuses.monitoring.coreos.com\nspec:\n  description: ${desc}\n`,
    });
    const svc = {
      file: "clusters/primary/rendered/apps/demo/service-web.yaml",
      text: 'apiVersion: v1\nkind: "Service"\nmetadata:\n  name: web\n  namespace: demo\n',
    };
    const base = scope([REQ()]);
    const withCrd = (desc: string) => ({ ...base, files: [...base.files, crd(desc), svc] });
    const a = simInputOf(withCrd("one"), keys, NOW);
    expect(a.input.objects).not.toContain("CustomResourceDefinition");
    expect(a.input.objects).not.toContain("kind: ConfigMap");
    expect(a.input.objects).toContain('kind: "Service"');
    expect(simInputOf(withCrd("two"), keys, NOW).key).toBe(a.key);
    expect(a.key).not.toBe(simInputOf(base, keys, NOW).key);
  });
});

describe("findings", () => {
  it("a failed field points at its line in chapter.yaml and carries the trace; config errors point at the resource", () => {
    const output: SimOutput = {
      version: 1,
      results: [
        {
          id: "alice-green",
          hops: [
            {
              proxy: "istio-ingress/istio-ingress",
              direction: "outbound",
              route: "default",
              cluster: "outbound|80|blue|frontend-portal.workshop.svc.cluster.local",
            },
          ],
          outcome: { kind: "delivered", destination: "workshop/frontend-portal-v1" },
        },
      ],
      configErrors: [
        {
          kind: "RequestAuthentication",
          namespace: "istio-ingress",
          name: "ingress-jwt",
          message: "jwks_uri is not a valid URL",
        },
      ],
    };
    const f = findingsOf(scope([REQ()]), output);
    expect(f.map((x) => [x.rule, x.file, x.line])).toEqual([
      ["behaviour/expectation", "chapters/15-jwt/chapter.yaml", 47],
      ["behaviour/expectation", "chapters/15-jwt/chapter.yaml", 40],
      [
        "behaviour/config-error",
        "clusters/primary/rendered/mesh/istio-ingress/requestauthentication-ingress-jwt.yaml",
        2,
      ],
    ]);
    expect(f[0]!.message).toContain("matches route 'default', expected 'admins-by-jwt-claim'");
    expect((f[0] as { detail?: string }).detail).toContain("1. istio-ingress/istio-ingress outbound");
    const missing = findingsOf(scope([REQ()]), {
      version: 1,
      results: [
        { id: "alice-green", hops: [], outcome: { kind: "delivered" }, notEvaluable: "no JWKS for issuer x" },
      ],
      configErrors: [],
    });
    expect(missing[0]).toMatchObject({ rule: "behaviour/not-evaluable", severity: "warning" });
  });

  describe("without the helper", () => {
    let dir = "";
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });
    it("reports once that nothing was checked: a warning locally, an error in CI", async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "behaviour-"));
      const env = {
        ...process.env,
        ISTIO_GITOPS_CACHE: dir,
        // An empty tool cache too: a caller's own (ISTIO_GITOPS_TOOLS_DIR) may hold a built helper.
        ISTIO_GITOPS_TOOLS_DIR: dir,
        XDG_CACHE_HOME: dir,
        HOME: dir,
        MESH_SIM_BIN: "",
        CI: "",
      };
      const local = await runBehaviour([scope([REQ()]), scope([REQ()])], { env });
      expect(local).toHaveLength(1);
      expect(local[0]).toMatchObject({ rule: "behaviour/helper", severity: "warning", line: 40 });
      expect(local[0]!.message).toContain(
        "2 expectation(s) of 2 cluster x chapter scope(s) were not checked",
      );
      const ci = await runBehaviour([scope([REQ()])], { env: { ...env, CI: "true" } });
      expect(ci[0]!.severity).toBe("error");
      const absent = await runBehaviour([scope([REQ()])], {
        env: { ...env, MESH_SIM_BIN: path.join(dir, "nope") },
      });
      expect(absent[0]!.rule).toBe("behaviour/helper");
      expect(await runBehaviour([scope([])], { env })).toEqual([]);
    });
  });
});

describe("--explain's arguments", () => {
  it("reads a workload or gateway source and refuses anything else with a usage error", async () => {
    const { parseFrom, explain } = await import("../../scripts/lib/behaviour/explain.ts");
    expect(parseFrom("workshop/curl")).toEqual({ kind: "workload", namespace: "workshop", name: "curl" });
    expect(parseFrom("gateway:istio-ingress/istio-ingress")).toEqual({
      kind: "gateway",
      namespace: "istio-ingress",
      name: "istio-ingress",
    });
    expect(() => parseFrom("curl")).toThrow(/<namespace>\/<workload>/);
    await expect(
      explain(process.cwd(), {
        cluster: "primary",
        chapter: "10",
        from: "workshop/curl",
        url: "content-generator",
      }),
    ).rejects.toThrow(/not a URL/);
  });
});

describe("without Istio's platform releases in the render", () => {
  it("does not run those scopes and says why, once, even without the helper", async () => {
    const blind = { ...scope([REQ()]), unrenderedIstio: ["istiod", "istio-ingress"] };
    const f = await runBehaviour([blind, blind], { env: { ...process.env, MESH_SIM_BIN: "/nonexistent" } });
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ rule: "behaviour/not-evaluable", severity: "warning", line: 40 });
    expect(f[0]!.message).toContain("2 cluster x chapter scope(s)");
    expect(f[0]!.message).toContain("istiod, istio-ingress");
  });
});
