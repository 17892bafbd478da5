/** Chapters 15-17: end-user JWTs, mTLS with authorization, egress control. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { lesson, shellCommands } from "../lesson.ts";
import { ROOT, envOf, rendered, route, routeNames, type Loose, SERVICES } from "../render-cache.ts";

const JWKS = "http://auth-service.workshop.svc.cluster.local/.well-known/jwks.json";
const principal = (ns: string, sa: string) => `cluster.local/ns/${ns}/sa/${sa}`;

/** Base64url as absl::WebSafeBase64Unescape (Envoy's JWT library) takes it: padding optional. */
function base64urlDecodes(part: string): boolean {
  return /^[A-Za-z0-9_-]*$/.test(part) && part.length % 4 !== 1;
}

/**
 * The first check of Envoy's JWT library (jwt_verify_lib's Jwt::parseFromString) a token fails, as
 * the text of the 401; "parsed" when its shape is right and the issuer, time, audience and
 * signature checks come next.
 */
function envoyJwtParse(token: string): string {
  const parts = token.split(".");
  if (parts.length !== 3)
    return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
  if (!base64urlDecodes(parts[0]!)) return "Jwt header is an invalid Base64url encoded";
  if (!base64urlDecodes(parts[1]!)) return "Jwt payload is an invalid Base64url encoded";
  if (!base64urlDecodes(parts[2]!) || parts[2] === "") return "Jwt signature is an invalid Base64url encoded";
  return "parsed";
}
const b64url = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");

describe("15 JWT", () => {
  it("forges a token whose 401 is the one the lesson names: a well-formed token with a bad signature", async () => {
    const r = await rendered("primary", 15);
    const rule = r.mesh("RequestAuthentication", "istio-ingress", "ingress-jwt").spec.jwtRules[0];
    const text = lesson("15-jwt");
    const forged = shellCommands(text).find((c) => c.includes("Bearer ${TOKEN%.*}."));
    expect(forged, "the forged token keeps alice's header and claims").toBeDefined();
    const signature = /Bearer \$\{TOKEN%\.\*\}\.([^"]*)"/.exec(forged!)![1]!;
    // Alice's token with that signature: parses, right issuer and audience, so the signature check
    // is what fails, with "Jwt verification fails".
    const token = `${b64url({ alg: "ES256", kid: "k" })}.${b64url({ iss: rule.issuer, aud: rule.audiences })}.${signature}`;
    expect(envoyJwtParse(token)).toBe("parsed");
    expect(text.replace(/\s+/g, " ")).toContain("`Jwt verification fails 401`");
    // The old example never reached the signature check: its one-character signature does not decode.
    expect(envoyJwtParse("eyJhbGciOiJIUzI1NiJ9.e30.x")).toBe("Jwt signature is an invalid Base64url encoded");
    expect(text).not.toContain("eyJhbGciOiJIUzI1NiJ9.e30.x");
  });

  it("validates the auth-service's tokens in the app namespace and at the ingress gateway", async () => {
    const r = await rendered("primary", 15);
    const app = r.mesh("RequestAuthentication", "workshop", "workshop-jwt");
    const gw = r.mesh("RequestAuthentication", "istio-ingress", "ingress-jwt");
    for (const ra of [app, gw]) {
      const rule = ra.spec.jwtRules[0];
      // auth-service's defaults (apps/shared/src/authenticate.ts): issuer and audience.
      expect(rule.issuer).toBe("https://auth-service.workshop");
      expect(rule.audiences).toEqual(["workshop-app"]);
      expect(rule.jwksUri).toBe(JWKS);
      expect(rule.fromCookies).toEqual(["workshop_session"]);
    }
    expect(app.spec.selector).toBeUndefined();
    expect(gw.spec.selector.matchLabels).toEqual({ istio: "ingress" });
  });

  it("requires a request principal on the write paths", async () => {
    const r = await rendered("primary", 15);
    const portal = r.mesh("AuthorizationPolicy", "workshop", "frontend-portal-require-jwt");
    expect(portal.spec.action).toBe("DENY");
    expect(portal.spec.rules[0].from[0].source.notRequestPrincipals).toEqual(["*"]);
    expect(portal.spec.rules[0].to[0].operation.paths).toEqual(
      expect.arrayContaining(["/upload-image", "/send-message", "/api/images", "/api/messages"]),
    );
    expect(portal.spec.rules[0].to[0].operation.paths).not.toContain("/");
    for (const name of ["image-processor-require-jwt", "mailing-service-require-jwt"]) {
      expect(r.mesh("AuthorizationPolicy", "workshop", name).spec.action).toBe("DENY");
    }
  });

  it("routes the admins group to the green portal on its JWT claim, at the gateway", async () => {
    const r = await rendered("primary", 15);
    const vs = r.mesh("VirtualService", "workshop", "frontend-portal-ingress");
    expect(routeNames(vs)).toEqual(["admins-by-jwt-claim", "green-by-cookie", "default"]);
    const claim = route(vs, "admins-by-jwt-claim");
    expect(claim.match[0].headers["@request.auth.claims.group"]).toEqual({ exact: "admins" });
    expect(claim.route[0].destination.subset).toBe("green");
    // The claim is only known where a RequestAuthentication validated the token: the gateway.
    expect(vs.spec.gateways).toEqual(["istio-ingress/portal-gateway"]);
  });

  it("signs with one key from a Secret created out of band, never with key material in git", async () => {
    const r = await rendered("primary", 15);
    expect(r.values("workshop-app").services["auth-service"].jwt).toEqual({
      existingSecret: "auth-signing-key",
      key: "private-key.pem",
    });
    const auth = r.app("Deployment", "auth-service-v1");
    expect(envOf(auth)["JWT_PRIVATE_KEY_FILE"]).toBe("/var/run/secrets/workshop/jwt/private-key.pem");
    expect(auth.spec.template.spec.volumes).toContainEqual({
      name: "jwt-key",
      secret: { secretName: "auth-signing-key", defaultMode: 0o440 },
    });
    expect(r.hasApp("Secret", "auth-signing-key")).toBe(false);
    for (const text of r.files.values()) expect(text).not.toMatch(/BEGIN [A-Z ]*PRIVATE KEY/);
    // The README says how to create it, in the format auth-service loads and under the mounted key.
    const readme = readFileSync(path.join(ROOT, "chapters/15-jwt/README.md"), "utf8");
    expect(readme).toContain("openssl pkcs8 -topk8 -nocrypt -out private-key.pem");
    expect(readme).toContain(
      "kubectl -n workshop create secret generic auth-signing-key --from-file=private-key.pem",
    );
  });

  it("lets the proxies fetch the JWKS over the mesh", async () => {
    const env = (await rendered("primary", 15)).values("istiod").pilot.env;
    expect(env.PILOT_JWT_ENABLE_REMOTE_JWKS).toBe("hybrid");
    expect(env.EXTERNAL_ISTIOD).toBe("true");
  });

  it("keeps istiod's own JWKS fetches out of private, loopback and link-local ranges (IST0175)", async () => {
    const blocked = String(
      (await rendered("primary", 15)).values("istiod").pilot.env.BLOCKED_CIDRS_IN_JWKS_URIS,
    );
    const cidrs = blocked.split(",");
    for (const c of ["169.254.0.0/16", "127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])
      expect(cidrs).toContain(c);
    // Not before the chapter that brings RequestAuthentications.
    expect(
      (await rendered("primary", 14)).values("istiod").pilot.env.BLOCKED_CIDRS_IN_JWKS_URIS,
    ).toBeUndefined();
  });
});

describe("16 mTLS and authorization", () => {
  it("ends at STRICT mesh-wide mutual TLS (added PERMISSIVE, patched in the same chapter)", async () => {
    const r = await rendered("primary", 16);
    const pa = r.mesh("PeerAuthentication", "istio-system", "default");
    expect(pa.spec.mtls.mode).toBe("STRICT");
    expect(pa.spec.selector).toBeUndefined();
    expect(r.result.composition.mesh.find((m) => m.object.kind === "PeerAuthentication")?.patchedBy).toEqual([
      "16-mtls",
    ]);
    expect((await rendered("primary", 15)).meshOfKind("PeerAuthentication")).toEqual([]);
  });

  it("denies everything in workshop by default", async () => {
    const deny = (await rendered("primary", 16)).mesh("AuthorizationPolicy", "workshop", "allow-nothing");
    expect(deny.spec).toEqual({});
  });

  // Every call the application makes (apps/*/src/config.ts peers, the stores) and the gateway's.
  const CALLS: Array<[string, string]> = [
    [principal("istio-ingress", "istio-ingress"), "frontend-portal"],
    [principal("workshop", "frontend-portal"), "auth-service"],
    [principal("workshop", "frontend-portal"), "content-generator"],
    [principal("workshop", "frontend-portal"), "image-processor"],
    [principal("workshop", "frontend-portal"), "mailing-service"],
    [principal("workshop", "image-processor"), "content-generator"],
    [principal("workshop", "image-processor"), "auth-service"],
    [principal("workshop", "mailing-service"), "auth-service"],
    [principal("workshop", "image-processor"), "postgres"],
    [principal("workshop", "image-processor"), "redis"],
    [principal("workshop", "mailing-service"), "redis"],
  ];

  it.each(CALLS)("allows %s -> %s by service-account principal", async (source, app) => {
    const r = await rendered("primary", 16);
    const allows = r
      .meshOfKind("AuthorizationPolicy")
      .filter(
        (p: Loose) => (p.spec.action ?? "ALLOW") === "ALLOW" && p.spec.selector?.matchLabels?.app === app,
      );
    const principals = allows
      .flatMap((p: Loose) => p.spec.rules.flatMap((rule: Loose) => rule.from ?? []))
      .flatMap((f: Loose) => f.source.principals ?? []);
    expect(principals).toContain(source);
  });

  it("allows no call the application does not make", async () => {
    const r = await rendered("primary", 16);
    const allowed = new Set(CALLS.map(([s, a]) => `${s} -> ${a}`));
    for (const p of r.meshOfKind("AuthorizationPolicy") as Loose[]) {
      if ((p.spec.action ?? "ALLOW") !== "ALLOW" || !p.spec.selector) continue;
      for (const rule of p.spec.rules) {
        // The JWKS document is the one open read for every workshop identity (chapter 15).
        if (rule.to?.[0]?.operation?.paths?.includes("/.well-known/jwks.json")) continue;
        for (const f of rule.from) {
          for (const s of f.source.principals)
            expect(allowed, `${p.metadata.name}: ${s}`).toContain(
              `${s} -> ${p.spec.selector.matchLabels.app}`,
            );
        }
      }
    }
  });

  it("matches the service accounts the chart really runs", async () => {
    const r = await rendered("primary", 16);
    for (const svc of SERVICES) {
      const d = r.app("Deployment", `${svc}-v1`);
      expect(d.spec.template.spec.serviceAccountName).toBe(svc);
      expect(d.spec.template.metadata.labels.app).toBe(svc);
    }
  });

  it("adds NetworkPolicies below the mesh and a plain-text client outside it", async () => {
    const r = await rendered("primary", 16);
    const deny = r.mesh("NetworkPolicy", "workshop", "default-deny-ingress");
    expect(deny.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress"] });
    const allow = r.mesh("NetworkPolicy", "workshop", "allow-from-mesh-namespaces");
    const sources = allow.spec.ingress[0].from.map(
      (f: Loose) => f.namespaceSelector.matchLabels["kubernetes.io/metadata.name"],
    );
    expect(sources).toEqual(expect.arrayContaining(["workshop", "istio-ingress"]));
    expect(sources).not.toContain("workshop-outside");
    const outside = r.mesh("Namespace", undefined, "workshop-outside");
    expect(outside.metadata.labels["istio-injection"]).toBe("disabled");
    expect(r.app("Job", "load-test", "workshop-outside").spec.template.spec.containers[0].args).toContain(
      "--url=http://frontend-portal.workshop/",
    );
  });
});

describe("17 egress", () => {
  it("refuses hosts the registry does not know", async () => {
    const r = await rendered("primary", 17);
    expect(r.values("istiod").meshConfig.outboundTrafficPolicy.mode).toBe("REGISTRY_ONLY");
    // Chapter 06's provider survives the deep merge of a later meshConfig change.
    expect(r.values("istiod").meshConfig.extensionProviders[0].name).toBe("otel-tracing");
  });

  it("gives the address-less TCP ServiceEntry a virtual IP through DNS proxying", async () => {
    const v = (await rendered("primary", 17)).values("istiod");
    expect(v.meshConfig.defaultConfig.proxyMetadata.ISTIO_META_DNS_CAPTURE).toBe("true");
    expect(v.pilot.env.PILOT_ENABLE_IP_AUTOALLOCATE).toBe("true");
  });

  it("registers the external API and an external database", async () => {
    const r = await rendered("primary", 17);
    const api = r.mesh("ServiceEntry", "workshop", "external-api");
    expect(api.spec.location).toBe("MESH_EXTERNAL");
    expect(api.spec.ports.map((p: Loose) => [p.number, p.protocol])).toEqual([[80, "HTTP"]]);
    const db = r.mesh("ServiceEntry", "workshop", "external-postgres");
    expect(db.spec.ports[0]).toMatchObject({ number: 5432, protocol: "TCP" });
    // The application's URL is plain HTTP to the registered host.
    const url = new URL(envOf(r.app("Deployment", "content-generator-v1")).EXTERNAL_API_URL ?? "");
    expect(url.protocol).toBe("http:");
    expect(api.spec.hosts).toEqual([url.hostname]);
  });

  it("leaves the egress gateway the only way out to the API: no port of it the sidecars reach directly", async () => {
    const r = await rendered("primary", 17);
    /** ServiceEntries a proxy in `ns` knows (exportTo: absent or "*" everywhere, "." at home). */
    const visibleIn = (ns: string) =>
      r.meshOfKind("ServiceEntry").filter((se) => {
        const to: string[] = (se.spec as Loose).exportTo ?? ["*"];
        return to.includes("*") || to.includes(ns) || (to.includes(".") && se.metadata.namespace === ns);
      });
    const vs = r.mesh("VirtualService", "istio-egress", "external-api-through-egress-gateway");
    const viaGateway = route(vs, "sidecar-to-egress-gateway").match.map((m: Loose) => m.port);
    for (const se of visibleIn("workshop")) {
      if (!(se.spec as Loose).hosts.includes("httpbin.org")) continue;
      for (const port of (se.spec as Loose).ports)
        expect(
          viaGateway,
          `${se.metadata.name} lets workshop reach httpbin.org:${port.number} directly`,
        ).toContain(port.number);
    }
    // The gateway itself knows the real server's port, which it routes to.
    const target = route(vs, "egress-gateway-to-external-api").route[0].destination;
    const egress = visibleIn("istio-egress").filter((se) => (se.spec as Loose).hosts.includes(target.host));
    expect(egress.flatMap((se) => (se.spec as Loose).ports.map((p: Loose) => p.number))).toContain(
      target.port.number,
    );
  });

  it("restarts the workshop's pods so their sidecars start with DNS capture, and says why", () => {
    const text = lesson("17-egress");
    const promote = text.slice(text.indexOf("## Promote"), text.indexOf("## Verify"));
    const cmds = shellCommands(promote);
    const at = cmds.indexOf("kubectl -n workshop rollout restart deploy");
    expect(at).toBeGreaterThan(cmds.indexOf("pnpm promote primary"));
    expect(text).toMatch(/Pods that run already keep their\s+old sidecar until they are restarted/);
    expect(text).toContain("https://httpbin.org/uuid   # 000");
  });

  it("sends the API through the egress gateway and originates TLS there", async () => {
    const r = await rendered("primary", 17);
    expect(r.releases()).toContain("istio-egress");
    expect(r.values("istio-egress").service.type).toBe("ClusterIP");
    const host = r.mesh("ServiceEntry", "workshop", "external-api").spec.hosts[0];
    const gw = r.mesh("Gateway", "istio-egress", "egress-gateway");
    expect(gw.spec.selector).toEqual({ istio: "egress" });
    expect(gw.spec.servers[0].tls.mode).toBe("ISTIO_MUTUAL");
    expect(gw.spec.servers[0].hosts).toEqual([host]);

    const vs = r.mesh("VirtualService", "istio-egress", "external-api-through-egress-gateway");
    expect(vs.spec.gateways).toEqual(["istio-egress/egress-gateway", "mesh"]);
    expect(route(vs, "sidecar-to-egress-gateway").route[0].destination).toMatchObject({
      host: "istio-egress.istio-egress.svc.cluster.local",
      subset: "external-api",
    });
    expect(route(vs, "egress-gateway-to-external-api").route[0].destination).toEqual({
      host,
      port: { number: 443 },
    });

    const toGateway = r.mesh("DestinationRule", "istio-egress", "egress-gateway-for-external-api");
    expect(toGateway.spec.subsets[0].trafficPolicy.portLevelSettings[0].tls).toEqual({
      mode: "ISTIO_MUTUAL",
      sni: host,
    });
    const originate = r.mesh("DestinationRule", "istio-egress", "originate-tls-for-external-api");
    expect(originate.spec.host).toBe(host);
    // SIMPLE TLS origination verifies the server: a CA bundle and the expected name.
    expect(originate.spec.trafficPolicy.portLevelSettings[0].tls.caCertificates).toBe(
      "/etc/ssl/certs/ca-certificates.crt",
    );
    expect(originate.spec.trafficPolicy.portLevelSettings[0].tls.subjectAltNames).toEqual([host]);
    expect(originate.spec.trafficPolicy.portLevelSettings[0]).toMatchObject({
      port: { number: 443 },
      tls: { mode: "SIMPLE", sni: host },
    });
  });
});
