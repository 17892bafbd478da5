/**
 * chapter.yaml `expect:` -> what `pnpm verify` sends for real (LiveRequest, requests.ts). Pure:
 * no I/O, so the mapping is tested against the real chapter files.
 *
 * Only requests that enter through the ingress gateway can be sent from the user's machine: they
 * go to the address the gateway is reached at (`--ingress` for http://, `--ingress-https` for
 * https://, e.g. a `kubectl port-forward`), with the Host header of the expectation's URL (and,
 * over TLS, that host as SNI, see ingress-fetch.ts). A request from a workload would need
 * `kubectl exec` into that pod; it is listed as not sent, never as passed.
 *
 * Which version answered is read from the `x-version` header every workshop app stamps on every
 * response (apps/shared/src/service.ts), so it works for the portal's HTML page as well as for
 * JSON answers (whose `served.version` says the same).
 */
import type { ExpectRequest } from "../model/types.ts";
import type { LiveRequest } from "./requests.ts";

/**
 * The demo accounts of auth-service (DEFAULT_DEMO_USERS in apps/auth-service/src/config.ts; a test
 * keeps the two equal). A token for an expectation is obtained by logging in as its `sub`.
 */
export const DEMO_USERS: ReadonlyArray<{ username: string; password: string; group: string }> = [
  { username: "alice", password: "wonderland", group: "admins" },
  { username: "bob", password: "builder", group: "users" },
];
/** What auth-service puts in its tokens (DEFAULT_ISSUER / audience in its config). */
export const AUTH_ISSUER = "https://auth-service.workshop";
export const AUTH_AUDIENCE = "workshop-app";

/** subset name -> the `version` label it selects, per host short name (from DestinationRules). */
export type SubsetVersions = Record<string, Record<string, string>>;

/** A token the live auth-service must issue before the request is sent. */
export interface TokenNeed {
  username: string;
  password: string;
  /** Keep the real header and claims, break the signature (as chapter 15's README does). */
  forged: boolean;
  /** Send it as this cookie instead of `Authorization: Bearer`. */
  cookie?: string;
}

export type Planned =
  | {
      kind: "send";
      name: string;
      request: LiveRequest;
      token?: TokenNeed;
      /** `then` fields a request from outside cannot observe (route name, hash policy, ...). */
      unchecked?: string[];
    }
  | { kind: "not-sent"; name: string; file: string; line: number; reason: string };

export interface PlanOptions {
  /** Base URL for http:// expectations (the gateway's port 80). */
  ingress?: string;
  /** Base URL for https:// expectations (the gateway's port 443). */
  ingressHttps?: string;
  subsets: SubsetVersions;
  /** Samples for a check of which version answered (default 20). */
  samples?: number;
}

/** DestinationRule objects -> SubsetVersions. A subset without a `version` label is left out. */
export function subsetVersionsOf(docs: readonly unknown[]): SubsetVersions {
  const out: SubsetVersions = {};
  for (const d of docs) {
    const o = d as {
      kind?: string;
      spec?: { host?: string; subsets?: Array<{ name?: string; labels?: Record<string, string> }> };
    };
    if (o?.kind !== "DestinationRule" || typeof o.spec?.host !== "string") continue;
    const host = o.spec.host.split(".")[0]!;
    for (const s of o.spec.subsets ?? [])
      if (s.name && s.labels?.version) (out[host] ??= {})[s.name] = s.labels.version;
  }
  return out;
}

/** The version a destination `ns/<service>-<vN>` (a Deployment of the chart) stands for. */
function versionOfDestination(destination: string | undefined): string | undefined {
  return destination ? /-(v[0-9]+)$/.exec(destination)?.[1] : undefined;
}

/** The expected status: `status` when given, else what the outcome implies; undefined = any 2xx. */
function expectedStatus(r: ExpectRequest): number | undefined | "unknown" {
  const t = r.then;
  if (t.status !== undefined) return t.status;
  if (t.fault && t.fault.abort) return t.fault.abort.percent >= 100 ? t.fault.abort.status : "unknown";
  if (t.outcome === "denied" || t.allowed === false) return 403;
  if (t.outcome === undefined || t.outcome === "delivered" || t.allowed === true) return undefined;
  return "unknown";
}

function tokenNeed(r: ExpectRequest): TokenNeed | string {
  const jwt = r.request.jwt!;
  const c = jwt.claims ?? {};
  if (jwt.expired) return "needs an expired token, which the live auth-service does not issue";
  const user = DEMO_USERS.find((u) => u.username === c["sub"]);
  if (!user) return `needs a token for sub '${String(c["sub"])}', not a demo user of auth-service`;
  const standard: Record<string, unknown> = {
    iss: AUTH_ISSUER,
    aud: AUTH_AUDIENCE,
    sub: user.username,
    group: user.group,
  };
  for (const [k, v] of Object.entries(c))
    if (standard[k] !== v)
      return `needs a token with ${k}: ${JSON.stringify(v)}, which the live auth-service does not issue (it signs ${k}: ${JSON.stringify(standard[k])})`;
  return {
    username: user.username,
    password: user.password,
    forged: jwt.forged === true,
    ...(jwt.cookie ? { cookie: jwt.cookie } : {}),
  };
}

/** One expectation -> a request to send, or why it is not sent. */
export function planExpectation(r: ExpectRequest, o: PlanOptions): Planned {
  const where = { name: r.name, file: r.file, line: r.position.line };
  const notSent = (reason: string): Planned => ({ kind: "not-sent", ...where, reason });
  if (r.from.kind !== "gateway")
    return notSent(
      `sent from workload ${r.from.namespace}/${r.from.name}: needs kubectl exec into that pod, which verify does not do yet`,
    );
  const m = /^(https?):\/\/([^/:?#]+)(?::[0-9]+)?(.*)$/.exec(r.request.url);
  if (!m) return notSent(`URL ${r.request.url} is not http(s)`);
  const [, scheme, host, rest] = m as unknown as [string, "http" | "https", string, string];
  const base = scheme === "https" ? o.ingressHttps : o.ingress;
  if (!base)
    return notSent(
      `enters through the ingress gateway: pass ${scheme === "https" ? "--ingress-https URL (the gateway's port 443, e.g. https://127.0.0.1:8443 after kubectl port-forward)" : "--ingress URL (the gateway's port 80, e.g. http://127.0.0.1:8080 after kubectl port-forward)"}`,
    );
  const status = expectedStatus(r);
  if (status === "unknown")
    return notSent(`its outcome (${r.then.outcome ?? "a partial abort"}) has no single HTTP status to check`);
  let token: TokenNeed | undefined;
  if (r.request.jwt) {
    const t = tokenNeed(r);
    if (typeof t === "string") return notSent(t);
    token = t;
  }
  const headers: Record<string, string> = { host };
  for (const [k, v] of Object.entries(r.request.headers ?? {})) headers[k.toLowerCase()] = v;
  const cookies = Object.entries(r.request.cookies ?? {}).map(([k, v]) => `${k}=${v}`);
  if (cookies.length) headers.cookie = [headers.cookie, ...cookies].filter(Boolean).join("; ");
  const service = r.then.destination?.split("/")[1]?.replace(/-v[0-9]+$/, "");
  const version =
    (r.then.subset && service ? o.subsets[service]?.[r.then.subset] : undefined) ??
    (r.then.subset && /^v[0-9]+$/.test(r.then.subset) ? r.then.subset : undefined) ??
    versionOfDestination(r.then.destination);
  let weights: Record<string, number> | undefined;
  if (r.then.weights) {
    weights = {};
    for (const [subset, w] of Object.entries(r.then.weights)) {
      const v = (service ? o.subsets[service]?.[subset] : undefined) ?? subset;
      weights[v] = (weights[v] ?? 0) + w;
    }
  } else if (version && status === undefined) weights = { [version]: 100 };
  const method = r.request.method ?? "GET";
  // A write carries no body in chapter.yaml, so the app may answer 400: "delivered" then means
  // the mesh let it through (not 401/403), not a 2xx. One sample: writes have side effects.
  const isWrite = method !== "GET" && method !== "HEAD";
  const statusNot = isWrite && status === undefined ? [401, 403] : undefined;
  const request: LiveRequest = {
    name: r.name,
    file: r.file,
    line: r.position.line,
    url: `${base.replace(/\/$/, "")}${rest.startsWith("/") ? rest : `/${rest}`}`,
    ...(r.request.method ? { method: r.request.method } : {}),
    headers,
    ...(status !== undefined ? { status } : {}),
    ...(weights ? { weights, versionFrom: "header:x-version" } : {}),
    ...(statusNot ? { statusNot } : {}),
    ...(weights && isWrite ? { samples: 1 } : weights && !r.then.weights ? { samples: o.samples ?? 20 } : {}),
  };
  const observable = new Set(["status", "outcome", "allowed", "destination", "subset", "weights"]);
  const unchecked = Object.keys(r.then).filter((k) => !observable.has(k));
  return {
    kind: "send",
    name: r.name,
    request,
    ...(token ? { token } : {}),
    ...(unchecked.length ? { unchecked } : {}),
  };
}

export function planExpectations(rs: readonly ExpectRequest[], o: PlanOptions): Planned[] {
  return rs.map((r) => planExpectation(r, o));
}

/** A real token with its signature replaced: header and claims right, signature not. */
export function forgeToken(token: string): string {
  const parts = token.split(".");
  return `${parts[0]}.${parts[1]}.${Buffer.from("forged-signature").toString("base64url")}`;
}
