/** Regressions of reviewed defects that a pass/fail fixture alone cannot pin down. */
import { describe, expect, it, vi } from "vitest";
import { exitCodeOf } from "../../scripts/lib/validate/engine.ts";
import { SEMANTIC_RULES } from "../../scripts/lib/validate/rules/index.ts";
import { pathScope, run, testConfig } from "./helpers.ts";

const text = (file: string, body: string) => ({ file, text: body, kind: "manifests" as const });

const SERVICES = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Namespace
metadata: {name: bookinfo}
`;

describe("host resolution: Istio expands only names without a dot", () => {
  it("reports `reviews.bookinfo` and `reviews.bookinfo.svc` as unresolved (IST0101), not the FQDN or short name", async () => {
    const r = await run(
      [
        pathScope([
          text(
            "hosts.yaml",
            `${SERVICES}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
    - route:
        - {destination: {host: reviews.bookinfo}, weight: 50}
        - {destination: {host: reviews.bookinfo.svc}, weight: 25}
        - {destination: {host: reviews}, weight: 15}
        - {destination: {host: reviews.bookinfo.svc.cluster.local}, weight: 10}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: short, namespace: bookinfo}
spec:
  host: reviews.bookinfo
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: full, namespace: bookinfo}
spec:
  host: reviews.bookinfo.svc.cluster.local
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: bookinfo}
spec:
  egress: [{hosts: ["./reviews", "./reviews.bookinfo.svc.cluster.local", "istio-system/*"]}]
`,
          ),
        ]),
      ],
      { rules: ["vs/destination-host", "dr/host-not-found", "sidecar/egress-host-not-found"] },
    );
    const got = r.findings.map((f) => `${f.rule} ${f.message}`);
    expect(got.filter((m) => m.startsWith("vs/destination-host"))).toHaveLength(2);
    expect(got.some((m) => m.startsWith("vs/destination-host") && m.includes("'reviews.bookinfo'"))).toBe(
      true,
    );
    expect(got.some((m) => m.startsWith("vs/destination-host") && m.includes("'reviews.bookinfo.svc'"))).toBe(
      true,
    );
    expect(r.findings.filter((f) => f.rule === "dr/host-not-found").map((f) => f.resource?.name)).toEqual([
      "short",
    ]);
    const sc = r.findings.filter((f) => f.rule === "sidecar/egress-host-not-found");
    expect(sc.map((f) => f.message)).toEqual([expect.stringContaining("'./reviews'")]);
  });
});

describe("a rule that throws", () => {
  it("is validate/internal, not suppressible, and makes the CLI exit 2", async () => {
    const rule = SEMANTIC_RULES.find((r) => r.code === "vs/zero-weight")!;
    const spy = vi.spyOn(rule, "check").mockImplementation(() => {
      throw new Error("boom");
    });
    try {
      const body = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: a
  namespace: demo
  annotations:
    validate.istio-gitops.dev/ignore: "vs/zero-weight: not relevant here"
spec:
  hosts: [a]
  http: [{route: [{destination: {host: a}}]}]
`;
      const r = await run(
        [pathScope([text("boom.yaml", body)])],
        { rules: ["vs/zero-weight"] },
        testConfig({
          suppressions: [
            { rule: "*", file: "**", reason: "everything" },
            { rule: "vs/zero-weight", file: "boom.yaml", reason: "this rule" },
          ],
        }),
      );
      expect(r.findings.map((f) => [f.rule, f.message])).toEqual([
        ["validate/internal", "internal error in rule vs/zero-weight: boom"],
      ]);
      expect(exitCodeOf(r)).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });

  it("exit codes: 0 clean, 1 errors or too many warnings", () => {
    const summary = {
      errors: 0,
      warnings: 2,
      infos: 0,
      resources: 1,
      files: 1,
      durationMs: 1,
      suppressed: 0,
    };
    expect(exitCodeOf({ findings: [], summary })).toBe(0);
    expect(exitCodeOf({ findings: [], summary }, 1)).toBe(1);
    expect(exitCodeOf({ findings: [], summary: { ...summary, errors: 1 } })).toBe(1);
  });
});

describe("exportTo in host resolution", () => {
  it("a Service or ServiceEntry not exported to the VirtualService's namespace is not resolved there", async () => {
    const r = await run(
      [
        pathScope([
          text(
            "export.yaml",
            `apiVersion: v1
kind: Service
metadata:
  name: private
  namespace: backend
  annotations: {networking.istio.io/exportTo: "."}
spec:
  selector: {app: private}
  ports: [{name: http, port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: backend}
spec:
  hosts: [api.example.com]
  exportTo: [".", "friends"]
  resolution: DNS
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: outsider, namespace: frontend}
spec:
  hosts: [outsider]
  http:
    - route:
        - {destination: {host: private.backend.svc.cluster.local}, weight: 50}
        - {destination: {host: api.example.com}, weight: 50}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: insider, namespace: backend}
spec:
  hosts: [insider]
  http:
    - route:
        - {destination: {host: private}, weight: 50}
        - {destination: {host: api.example.com}, weight: 50}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: friend, namespace: friends}
spec:
  hosts: [friend]
  http:
    - route: [{destination: {host: api.example.com}}]
`,
          ),
        ]),
      ],
      { rules: ["vs/destination-host"] },
    );
    expect(r.findings.map((f) => f.resource?.name)).toEqual(["outsider", "outsider"]);
    for (const f of r.findings) expect(f.message).toContain("is not exported to namespace frontend");
  });
});

describe("claim-based routing at a gateway: the RequestAuthentication must reach the gateway pods", () => {
  const GATEWAY = `apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress, namespace: istio-ingress}
spec:
  selector: {matchLabels: {istio: ingress}}
  template:
    metadata: {labels: {istio: ingress}}
    spec: {containers: [{name: istio-proxy, image: auto}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-ingress}
spec:
  selector: {istio: ingress}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [istio-ingress/public]
  http:
    - match: [{headers: {"@Request.Auth.Claims.group": {exact: admins}}}]
      route: [{destination: {host: shop}}]
`;
  const ra = (ns: string) => `---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: ${ns}}
spec:
  jwtRules: [{issuer: "https://auth.example.com"}]
`;
  const hits = async (body: string) =>
    (await run([pathScope([text("claims.yaml", body)])], { rules: ["vs/jwt-claim-without-requestauthn"] }))
      .findings;

  it("one in the VirtualService's namespace does not count; one in the gateway's namespace does", async () => {
    // The prefix is matched case-insensitively, as Istio does.
    expect(await hits(GATEWAY + ra("shop"))).toHaveLength(1);
    expect(await hits(GATEWAY + ra("istio-ingress"))).toEqual([]);
    expect(await hits(GATEWAY + ra("istio-system"))).toEqual([]);
  });
});
