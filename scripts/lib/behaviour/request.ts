/**
 * chapter.yaml requests -> the helper's SimRequests. JWTs are signed here with a key made for
 * this run (RS256); the helper gets its JWKS for every issuer the render's RequestAuthentications
 * name, so nothing is ever fetched from a jwksUri. A forged token is signed by a second key under
 * the same key id: the header and claims are right, the signature is not.
 */
import { createSign, generateKeyPairSync, type KeyObject } from "node:crypto";
import type { ExpectJwt, ExpectRequest } from "../model/types.ts";
import type { SimRequest } from "./protocol.ts";

export const TEST_KEY_ID = "behaviour-layer";

export interface TestKeys {
  signing: KeyObject;
  forging: KeyObject;
  /** The JWKS of `signing`, as a JSON document. */
  jwks: string;
}

export function makeTestKeys(): TestKeys {
  const a = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const b = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = a.publicKey.export({ format: "jwk" });
  return {
    signing: a.privateKey,
    forging: b.privateKey,
    jwks: JSON.stringify({ keys: [{ ...jwk, kid: TEST_KEY_ID, alg: "RS256", use: "sig" }] }),
  };
}

/** Test keys made on first use: a run whose every answer is cached never pays for RSA keygen. */
export function lazyTestKeys(): TestKeys {
  let keys: TestKeys | undefined;
  const get = () => (keys ??= makeTestKeys());
  return {
    get signing() {
      return get().signing;
    },
    get forging() {
      return get().forging;
    },
    get jwks() {
      return get().jwks;
    },
  };
}

const b64url = (s: string | Buffer) => Buffer.from(s).toString("base64url");

/** A token for `jwt`; `now` in seconds. `defaultIssuer`: when the claims name none. */
export function signJwt(jwt: ExpectJwt, keys: TestKeys, now: number, defaultIssuer?: string): string {
  const claims: Record<string, unknown> = {
    ...(defaultIssuer ? { iss: defaultIssuer } : {}),
    iat: now - 60,
    exp: jwt.expired ? now - 3600 : now + 3600,
    ...jwt.claims,
  };
  const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: TEST_KEY_ID }));
  const body = b64url(JSON.stringify(claims));
  const signer = createSign("RSA-SHA256");
  signer.update(`${head}.${body}`);
  const sig = signer.sign(jwt.forged ? keys.forging : keys.signing);
  return `${head}.${body}.${b64url(sig)}`;
}

export interface ParsedUrl {
  protocol: "http" | "https" | "tcp";
  host: string;
  port: number;
  path: string;
}

export function parseRequestUrl(url: string): ParsedUrl {
  const m = /^(https?|tcp):\/\/([^/:?#]+)(?::([0-9]+))?(.*)$/.exec(url);
  if (!m) throw new Error(`not a request URL: ${url}`);
  const protocol = m[1] as ParsedUrl["protocol"];
  const port = m[3] ? Number(m[3]) : protocol === "https" ? 443 : 80;
  const rest = m[4] ?? "";
  return { protocol, host: m[2]!, port, path: rest.startsWith("/") ? rest : `/${rest}` };
}

/** The SimRequest of one expectation; `id` is its name (unique in a chapter's effective set). */
export function toSimRequest(
  req: ExpectRequest,
  keys: TestKeys | undefined,
  now: number,
  defaultIssuer?: string,
): SimRequest {
  return simRequestOf(req, (jwt) => {
    if (!keys) throw new Error("a JWT request needs test keys");
    return signJwt(jwt, keys, now, defaultIssuer);
  });
}

/** The SimRequest of one expectation, its token (if any) from `token`. */
export function simRequestOf(req: ExpectRequest, token: (jwt: ExpectJwt) => string): SimRequest {
  const u = parseRequestUrl(req.request.url);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.request.headers ?? {})) headers[k.toLowerCase()] = v;
  const cookies = Object.entries(req.request.cookies ?? {}).map(([k, v]) => `${k}=${v}`);
  if (req.request.jwt) {
    const t = token(req.request.jwt);
    if (req.request.jwt.cookie) cookies.push(`${req.request.jwt.cookie}=${t}`);
    else headers.authorization = `Bearer ${t}`;
  }
  if (cookies.length) headers.cookie = [headers.cookie, ...cookies].filter(Boolean).join("; ");
  return {
    id: req.name,
    from: { kind: req.from.kind, namespace: req.from.namespace, name: req.from.name },
    host: u.host,
    port: u.port,
    protocol: u.protocol,
    path: u.path,
    method: req.request.method ?? "GET",
    headers,
  };
}
