/**
 * A minimal Kubernetes REST client over node:https with a client certificate: what the server
 * layer needs (discovery, server-side apply with dry-run, delete, status) and nothing else, with
 * the server's `Warning:` headers kept. Keep-alive connections, a bounded number at once.
 */
import { Agent, request as httpsRequest } from "node:https";

export interface RestResponse {
  status: number;
  text: string;
  /** The parsed body when it is JSON. */
  body: unknown;
  /** `Warning: 299 - "..."` headers, unquoted. */
  warnings: string[];
}

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** The text of `299 - "message"` warning headers (RFC 7234 warn-text, quotes unescaped). */
export function parseWarnings(header: string | string[] | undefined): string[] {
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: string[] = [];
  for (const h of list) {
    for (const m of h.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) out.push(m[1]!.replace(/\\(.)/g, "$1"));
  }
  return out;
}

export class KubeRest {
  private readonly agent: Agent;
  constructor(
    readonly server: string,
    tls: TlsMaterial,
    maxSockets = 8,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets, ca: tls.ca, cert: tls.cert, key: tls.key });
  }

  close(): void {
    this.agent.destroy();
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    accept = "application/json",
  ): Promise<RestResponse> {
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method,
          agent: this.agent,
          headers: {
            accept,
            ...(payload !== undefined
              ? { "content-type": contentType, "content-length": Buffer.byteLength(payload) }
              : {}),
          },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = undefined;
            }
            resolve({
              status: res.statusCode ?? 0,
              text,
              body: parsed,
              warnings: parseWarnings(res.headers.warning),
            });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}
