/**
 * The mesh simulation helper, through its TypeScript wrapper: the real binary (built into the
 * tool cache on first use) on small clusters with outcomes Istio documents, and the wrapper's
 * errors when the helper crashes, hangs or speaks another protocol.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SIM_PROTOCOL_VERSION,
  type SimInput,
  type SimRequest,
} from "../../scripts/lib/behaviour/protocol.ts";
import { runSim, SimError } from "../../scripts/lib/behaviour/sim.ts";
import { resolveMeshSim } from "../../scripts/lib/behaviour/sim-binary.ts";
import { TOOL_PINS } from "../../scripts/lib/tools/pins.ts";

const repoRoot = path.resolve(import.meta.dirname, "../..");

const BASE = `
apiVersion: v1
kind: Namespace
metadata: {name: foo, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: legacy}
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000, targetPort: 80}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  template:
    metadata: {labels: {app: httpbin}}
    spec:
      serviceAccountName: httpbin
      containers: [{name: httpbin, image: httpbin, ports: [{containerPort: 80}]}]
`;

function input(objects: string, requests: SimRequest[], jwks: Record<string, string> = {}): SimInput {
  return {
    version: SIM_PROTOCOL_VERSION,
    clusterDomain: "cluster.local",
    meshConfig: null,
    objects: `${BASE}---\n${objects}`,
    // The lesson's curl pods: not in the render, given as clients.
    clients: [
      { namespace: "foo", name: "sleep", labels: { app: "sleep" }, serviceAccount: "sleep" },
      { namespace: "foo", name: "intruder", labels: { app: "intruder" }, serviceAccount: "intruder" },
      { namespace: "legacy", name: "sleep", labels: { app: "sleep" }, serviceAccount: "default" },
    ],
    jwks,
    requests,
  };
}

function get(id: string, ns: string, from: string, headers: Record<string, string> = {}): SimRequest {
  return {
    id,
    from: { kind: "workload", namespace: ns, name: from },
    host: "httpbin.foo",
    port: 8000,
    protocol: "http",
    path: "/headers",
    method: "GET",
    headers,
  };
}

function jwt(key: ReturnType<typeof generateKeyPairSync>["privateKey"], claims: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const unsigned = `${b64({ alg: "RS256", kid: "k1", typ: "JWT" })}.${b64(claims)}`;
  return `${unsigned}.${sign("sha256", Buffer.from(unsigned), key).toString("base64url")}`;
}

describe("mesh-sim", () => {
  let bin: string;
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), "mesh-sim-test-"));
    // Built once per source hash into the tool cache; minutes cold, instant after.
    bin = await resolveMeshSim();
  }, 1_200_000);
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it("pins the same Istio as istioctl, with istioctl's replace lines", async () => {
    const goMod = await readFile(path.join(repoRoot, "scripts/go/mesh-sim/go.mod"), "utf8");
    expect(goMod).toContain(`istio.io/istio ${TOOL_PINS.istioctl.goVersion}`);
    expect(TOOL_PINS["mesh-sim"].goVersion).toBe(TOOL_PINS.istioctl.goVersion);
    for (const line of TOOL_PINS.istioctl.goReplace ?? []) expect(goMod).toContain(line.replace(/\s+/g, " "));
    expect(goMod).toContain("github.com/agentgateway/agentgateway/api => ");
  });

  it("delivers over auto mTLS, and STRICT refuses plain text from a pod without a sidecar", async () => {
    const out = await runSim(
      input(
        `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: foo}
spec: {mtls: {mode: STRICT}}
`,
        [get("mesh", "foo", "sleep"), get("legacy", "legacy", "sleep")],
      ),
      { bin },
    );
    const byId = Object.fromEntries(out.results.map((r) => [r.id, r]));
    expect(byId.mesh!.outcome).toMatchObject({ kind: "delivered", destination: "foo/httpbin" });
    expect(byId.mesh!.hops[0]).toMatchObject({
      proxy: "foo/sleep",
      direction: "outbound",
      upstreamTls: "ISTIO_MUTUAL",
      endpoints: 1,
    });
    expect(byId.mesh!.hops[1]).toMatchObject({ proxy: "foo/httpbin", direction: "inbound" });
    expect(byId.legacy!.outcome.kind).toBe("refused");
    expect(out.configErrors).toEqual([]);
  });

  it("evaluates AuthorizationPolicy principals and JWT claims as Istio documents them", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwks = JSON.stringify({
      keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k1", alg: "RS256", use: "sig" }],
    });
    const iss = "testing@secure.istio.io";
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const bearer = (claims: object) => ({ authorization: `Bearer ${jwt(privateKey, claims)}` });
    const out = await runSim(
      input(
        `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  jwtRules: [{issuer: "${iss}", jwksUri: "https://example.invalid/jwks.json"}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/foo/sa/sleep"], requestPrincipals: ["${iss}/*"]}}]
    when: [{key: "request.auth.claims[groups]", values: ["admins"]}]
`,
        [
          get("admin", "foo", "sleep", bearer({ iss, sub: "alice", exp, groups: ["admins"] })),
          get("user", "foo", "sleep", bearer({ iss, sub: "bob", exp, groups: ["users"] })),
          get("anonymous", "foo", "sleep"),
          get("wrong-sa", "foo", "intruder", bearer({ iss, sub: "alice", exp, groups: ["admins"] })),
          get("expired", "foo", "sleep", bearer({ iss, sub: "alice", exp: 1000, groups: ["admins"] })),
        ],
        { [iss]: jwks },
      ),
      { bin },
    );
    const outcome = (id: string) => out.results.find((r) => r.id === id)!.outcome;
    expect(outcome("admin")).toMatchObject({ kind: "delivered" });
    expect(outcome("user")).toMatchObject({ kind: "denied", status: 403 });
    expect(outcome("anonymous")).toMatchObject({ kind: "denied", status: 403 });
    expect(outcome("wrong-sa")).toMatchObject({ kind: "denied", status: 403 });
    expect(outcome("expired")).toMatchObject({ kind: "denied", status: 401 });
  });

  it("never fetches a jwksUri: without the issuer's JWKS a token is not evaluable", async () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const started = Date.now();
    const out = await runSim(
      input(
        `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: foo}
spec:
  jwtRules: [{issuer: "issuer.example", jwksUri: "https://203.0.113.1/jwks.json"}]
`,
        [
          get("token", "foo", "sleep", {
            authorization: `Bearer ${jwt(privateKey, { iss: "issuer.example", sub: "x" })}`,
          }),
        ],
      ),
      { bin },
    );
    expect(out.results[0]!.notEvaluable).toMatch(/no JWKS given for issuer "issuer.example"/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it("reports what istiod would refuse as configErrors", async () => {
    const out = await runSim(
      input(
        `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: foo}
spec:
  hosts: [httpbin.foo.svc.cluster.local]
  http: [{route: [{destination: {host: httpbin.foo.svc.cluster.local}}], retries: {attempts: -1}}]
`,
        [],
      ),
      { bin },
    );
    expect(out.configErrors).toHaveLength(1);
    expect(out.configErrors[0]).toMatchObject({ kind: "VirtualService", namespace: "foo", name: "broken" });
  });

  it("says why when the helper refuses its input, crashes or hangs", async () => {
    await expect(
      runSim({ ...input("", []), version: 99 as typeof SIM_PROTOCOL_VERSION }, { bin }),
    ).rejects.toThrow(/exited with status 1:\nmesh-sim: SimInput version 99/);
    const hang = path.join(tmp, "hang");
    await writeFile(hang, "#!/bin/sh\nexec sleep 30\n");
    await chmod(hang, 0o755);
    const err = await runSim(input("", []), { bin: hang, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimError);
    expect((err as Error).message).toMatch(/did not finish within 0.3s/);
    const garbage = path.join(tmp, "garbage");
    await writeFile(garbage, "#!/bin/sh\ncat >/dev/null; echo not json\n");
    await chmod(garbage, 0o755);
    await expect(runSim(input("", []), { bin: garbage })).rejects.toThrow(/printed no valid JSON/);
  });
});
