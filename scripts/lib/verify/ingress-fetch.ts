/**
 * A `fetch` for requests to the ingress gateway at an address that is not its host name (a
 * port-forward, a load balancer IP): the request's Host header is sent as given, and over TLS it is
 * also the SNI and the name the certificate is checked against (what `curl --resolve` does), with
 * the workshop CA from `--ingress-ca`. Redirects are never followed. Built on node:http(s)
 * because fetch takes neither a Host header nor a TLS server name.
 */
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";

export function ingressFetch(ca?: string): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = { ...((init?.headers as Record<string, string> | undefined) ?? {}) };
    const name = (headers.host ?? url.hostname).replace(/:[0-9]+$/, "");
    const body = typeof init?.body === "string" ? init.body : undefined;
    return await new Promise<Response>((resolve, reject) => {
      const options = {
        method: init?.method ?? "GET",
        headers,
        ...(init?.signal ? { signal: init.signal } : {}),
      };
      const onResponse = (res: http.IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
          const status = res.statusCode ?? 0;
          // Response cannot carry a body for these statuses.
          const text = [101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks);
          resolve(new Response(text, { status, headers: h }));
        });
      };
      const req =
        url.protocol === "https:"
          ? https.request(
              url,
              // No SNI for an IP address (TLS does not allow one); `ca` replaces the system CAs.
              { ...options, ...(isIP(name) ? {} : { servername: name }), ...(ca ? { ca } : {}) },
              onResponse,
            )
          : http.request(url, options, onResponse);
      req.on("error", (e) => reject(Object.assign(new Error(e.message), { cause: e })));
      req.end(body);
    });
  }) as typeof fetch;
}
