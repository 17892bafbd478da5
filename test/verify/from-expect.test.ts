/**
 * verify's mapping of chapter.yaml `expect:` onto live requests, against the real chapter files,
 * and the request part sent for real to a local HTTP server standing in for the ingress gateway.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_DEMO_USERS, parseDemoUsers } from "../../apps/auth-service/src/config.ts";
import { effectiveExpectations } from "../../scripts/lib/behaviour/expectations.ts";
import { makeCa, signLeaf } from "../../scripts/lib/net/certs.ts";
import { loadRepoOrThrow, type RepoModel } from "../../scripts/lib/model/repo.ts";
import { DEMO_USERS, planExpectations, type Planned } from "../../scripts/lib/verify/from-expect.ts";
import { ingressFetch } from "../../scripts/lib/verify/ingress-fetch.ts";
import { meshSubsets, sendPlanned } from "../../scripts/lib/verify/verify.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
let model: RepoModel;
let subsets: Awaited<ReturnType<typeof meshSubsets>>;

beforeAll(async () => {
  model = await loadRepoOrThrow(ROOT);
  subsets = await meshSubsets(ROOT);
});

const plan = (chapter: string, o: { ingress?: string; ingressHttps?: string } = {}) => {
  const dir = model.chapters.find((c) => c.id === Number(chapter))!.dir;
  return planExpectations(effectiveExpectations(model.chapters, dir, "primary").requests, { ...o, subsets });
};
const byName = (ps: Planned[], name: string) => ps.find((p) => p.name === name)!;

describe("chapter expectations -> live requests", () => {
  it("reads subset -> version from the mesh's DestinationRules", () => {
    expect(subsets["frontend-portal"]).toEqual({ blue: "v1", green: "v2" });
    expect(subsets["content-generator"]).toMatchObject({ v1: "v1", v2: "v2", v3: "v3" });
  });

  it("keeps the demo users equal to auth-service's", () => {
    expect(DEMO_USERS.map((u) => ({ ...u }))).toEqual(
      parseDemoUsers(DEFAULT_DEMO_USERS).map((u) => ({ ...u })),
    );
  });

  it("chapter 10: the gateway's requests go to --ingress / --ingress-https with their Host", () => {
    const ps = plan("10", { ingress: "http://127.0.0.1:8080", ingressHttps: "https://127.0.0.1:8443/" });
    expect(byName(ps, "gateway-redirects-to-https")).toMatchObject({
      kind: "send",
      request: { url: "http://127.0.0.1:8080/", headers: { host: "portal.workshop.example" }, status: 301 },
    });
    const green = byName(ps, "portal-green-with-cookie");
    expect(green).toMatchObject({
      kind: "send",
      request: {
        url: "https://127.0.0.1:8443/",
        headers: { host: "portal.workshop.example", cookie: "portal-color=green" },
        weights: { v2: 100 },
        versionFrom: "header:x-version",
      },
    });
    expect(byName(ps, "portal-blue-by-default")).toMatchObject({
      request: { weights: { v1: 100 } },
      unchecked: ["route"],
    });
    // From a workload: needs kubectl exec, never sent (and never passed).
    const admins = byName(ps, "admins-get-v2");
    expect(admins.kind).toBe("not-sent");
    expect(admins.kind === "not-sent" && admins.reason).toMatch(
      /workload workshop\/frontend-portal-v1.*kubectl exec/,
    );
    expect(
      ps
        .filter((p) => p.kind === "send")
        .map((p) => p.name)
        .sort(),
    ).toEqual([
      "gateway-redirects-to-https",
      "gateway-serves-portal-over-https",
      "portal-blue-by-default",
      "portal-green-with-cookie",
    ]);
  });

  it("without --ingress the gateway's requests are not sent, with the hint", () => {
    const ps = plan("13");
    expect(ps.every((p) => p.kind === "not-sent")).toBe(true);
    const p = byName(ps, "portal-affinity-cookie");
    expect(p.kind === "not-sent" && p.reason).toMatch(/--ingress-https URL/);
    expect(p.kind === "not-sent" && p.reason).not.toMatch(/kubectl exec/);
    const r = byName(ps, "gateway-redirects-to-https");
    expect(r.kind === "not-sent" && r.reason).toMatch(/--ingress URL/);
  });

  it("weights of a weighted route are keyed by version and keep their sum", () => {
    // No chapter's gateway request is weighted yet; the content-generator split of chapter 09 is
    // (from a workload), so its mapping is checked as if it entered through the gateway.
    const dir = model.chapters.find((c) => c.id === 9)!.dir;
    const weighted = effectiveExpectations(model.chapters, dir, "primary").requests.filter(
      (r) => r.then.weights,
    );
    expect(weighted.length).toBeGreaterThan(0);
    for (const r of weighted) {
      const [p] = planExpectations(
        [{ ...r, from: { kind: "gateway", namespace: "istio-ingress", name: "istio-ingress" } }],
        {
          ingress: "http://127.0.0.1:1",
          ingressHttps: "https://127.0.0.1:2",
          subsets,
        },
      );
      expect(p!.kind).toBe("send");
      const w = p!.kind === "send" ? p!.request.weights! : {};
      const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);
      expect(sum(w)).toBe(sum(r.then.weights!));
      for (const v of Object.keys(w)) expect(v).toMatch(/^v[0-9]+$/);
    }
  });

  it("chapter 15: JWTs come from auth-service; the ones it does not issue are not sent", () => {
    const ps = plan("15", { ingress: "http://127.0.0.1:8080", ingressHttps: "https://127.0.0.1:8443" });
    expect(byName(ps, "alice-token-green")).toMatchObject({
      kind: "send",
      token: { username: "alice", forged: false },
      request: { weights: { v2: 100 } },
    });
    expect(byName(ps, "forged-token-401")).toMatchObject({
      kind: "send",
      token: { username: "alice", forged: true },
      request: { status: 401, method: "POST" },
    });
    expect(byName(ps, "write-without-token-denied")).toMatchObject({ request: { status: 403 } });
    expect(byName(ps, "valid-token-write-allowed")).toMatchObject({
      request: { statusNot: [401, 403], samples: 1 },
    });
    for (const [name, why] of [
      ["expired-token-401", /expired token/],
      ["wrong-audience-401", /aud: "another-app"/],
    ] as const) {
      const p = byName(ps, name);
      expect(p.kind).toBe("not-sent");
      expect(p.kind === "not-sent" && p.reason).toMatch(why);
    }
  });
});

describe("the request part against a local stand-in for the ingress gateway", () => {
  let server: Server;
  let base: string;
  /** When set, the stand-in routes everyone to this version (a broken route). */
  let forceVersion: string | undefined;
  const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.real-signature";
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        if (req.headers.host !== "portal.workshop.example")
          return void res.writeHead(404).end("no such host");
        if (req.url === "/api/login" && req.method === "POST") {
          const creds = JSON.parse(body) as { username: string; password: string };
          if (creds.username !== "alice" || creds.password !== "wonderland")
            return void res.writeHead(401).end("{}");
          res.setHeader("content-type", "application/json");
          return void res.end(JSON.stringify({ result: { token: TOKEN } }));
        }
        const auth = req.headers.authorization;
        if (auth && auth !== `Bearer ${TOKEN}`) return void res.writeHead(401).end("Jwt verification fails");
        const green = /portal-color=green/.test(req.headers.cookie ?? "") || auth === `Bearer ${TOKEN}`;
        const version = forceVersion ?? (green ? "v2" : "v1");
        // The mesh denies a write without a token (no app, no x-version); the app answers the rest.
        if (req.method === "POST" && !auth) return void res.writeHead(403).end("RBAC: access denied");
        res.setHeader("x-version", version);
        // A write reaches the app without a body, which it refuses (as the real portal does).
        if (req.method === "POST") return void res.writeHead(400).end("{}");
        res.setHeader("content-type", "text/html");
        res.end(`<html>${version}</html>`);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const names = [
    "portal-blue-by-default",
    "portal-green-with-cookie",
    "alice-token-green",
    "forged-token-401",
    "write-without-token-denied",
    "valid-token-write-allowed",
    "expired-token-401",
  ];

  it("passes a gateway that answers as chapter 15 promises, and lists what it did not send", async () => {
    forceVersion = undefined;
    // Plain HTTP at both addresses: the stand-in has no certificate; the Host header is what routes.
    const ps = plan("15", { ingress: base, ingressHttps: base }).filter((p) => names.includes(p.name));
    const { checks, notSent } = await sendPlanned(ps, { fetchImpl: ingressFetch() });
    expect(checks.map((c) => [c.id, c.ok, c.message]).sort()).toEqual(
      names
        .filter((n) => n !== "expired-token-401")
        .map((n) => [`request/${n}`, true, expect.any(String)])
        .sort(),
    );
    expect(checks.find((c) => c.id === "request/portal-green-with-cookie")!.message).toMatch(
      /20x 200.*v2 20\/20/,
    );
    expect(checks.find((c) => c.id === "request/portal-green-with-cookie")!.message).toMatch(
      /\(Host portal\.workshop\.example\).*not checked: route\)$/,
    );
    expect(notSent.map((n) => n.name)).toEqual(["expired-token-401"]);
  });

  it("fails a route that sends everyone to one version, and a status that is not the promised one", async () => {
    forceVersion = "v1";
    const ps = plan("15", { ingress: base, ingressHttps: base }).filter((p) => names.includes(p.name));
    const { checks } = await sendPlanned(ps, { fetchImpl: ingressFetch() });
    const verdict = Object.fromEntries(checks.map((c) => [c.id.replace("request/", ""), c.ok]));
    expect(verdict).toMatchObject({
      "portal-blue-by-default": true,
      "portal-green-with-cookie": false,
      "alice-token-green": false,
    });
    expect(checks.find((c) => c.id === "request/portal-green-with-cookie")!.message).toMatch(
      /NOT consistent with the weights/,
    );
    // The http:// redirect promise against a server that answers 404: a fail naming the status.
    const redirect = plan("15", { ingress: base, ingressHttps: base }).filter(
      (p) => p.name === "gateway-redirects-to-https",
    );
    const [r] = (await sendPlanned(redirect, { fetchImpl: ingressFetch() })).checks;
    expect(r!.ok).toBe(false);
    expect(r!.message).toMatch(/1x 200; expected HTTP 301/);
  });
});

describe("over TLS, as curl --resolve: the Host is the server name, the certificate checked against --ingress-ca", () => {
  let dir: string;
  let server: ReturnType<typeof createHttpsServer>;
  let base: string;
  let ca: string;
  const seen: Array<string | false | null> = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "verify-tls-"));
    makeCa(dir, "workshop-ca", 1);
    signLeaf(dir, "gw", "/CN=portal.workshop.example", "subjectAltName=DNS:portal.workshop.example", 1);
    ca = await readFile(path.join(dir, "ca.crt"), "utf8");
    server = createHttpsServer(
      { key: await readFile(path.join(dir, "gw.key")), cert: await readFile(path.join(dir, "gw.crt")) },
      (req, res) => {
        seen.push((req.socket as TLSSocket).servername);
        res.setHeader("x-version", "v1");
        res.end(JSON.stringify({ served: { version: "v1" } }));
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  it("passes with the CA and the expectation's host as SNI; fails without the CA", async () => {
    const ps = plan("10", { ingressHttps: base }).filter(
      (p) => p.name === "gateway-serves-portal-over-https",
    );
    expect(ps).toHaveLength(1);
    const ok = await sendPlanned(ps, { fetchImpl: ingressFetch(ca) });
    expect(ok.checks[0]).toMatchObject({ ok: true });
    expect(ok.checks[0]!.message).toMatch(/20x 200.*v1 20\/20/);
    expect(new Set(seen)).toEqual(new Set(["portal.workshop.example"]));
    const bad = await sendPlanned(ps, { fetchImpl: ingressFetch() });
    expect(bad.checks[0]!.ok).toBe(false);
    expect(bad.checks[0]!.message).toMatch(/20x error.*(self-signed|unable to verify|local issuer)/i);
  });
});
