// What a plain Kubernetes Service does for `pnpm dev`: spreads requests over the content-generator
// versions in turn, so the portal shows v1, v2 and v3 answering without a mesh. Like a Service, it
// only sends to ready endpoints: each upstream's /readyz is probed every `probeMs`, and one that
// fails it (a service draining after SIGTERM, see apps/shared/src/run.ts) gets no new requests
// while its in-flight ones finish. A GET that fails before any response (the connection refused
// or reset as the upstream goes away) is tried once more on another ready upstream.
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";

export interface RoundRobinProxy {
  readonly url: string;
  close(): Promise<void>;
}

export interface RoundRobinOptions {
  /** Readiness probe interval; well below the services' SHUTDOWN_DELAY_MS in dev. */
  probeMs?: number;
  /** Path of the readiness endpoint; empty turns probing off. */
  readinessPath?: string;
}

export async function startRoundRobinProxy(
  upstreams: readonly string[],
  port: number,
  host = "127.0.0.1",
  options: RoundRobinOptions = {},
): Promise<RoundRobinProxy> {
  if (upstreams.length === 0) throw new Error("round-robin proxy needs at least one upstream");
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const probeAgent = new Agent({ keepAlive: false });
  const targets = upstreams.map((u) => ({ url: new URL(u), ready: true }));
  const readinessPath = options.readinessPath ?? "/readyz";
  let next = 0;

  const probe = (t: (typeof targets)[number]) =>
    new Promise<void>((resolve) => {
      const req = httpRequest(
        { agent: probeAgent, host: t.url.hostname, port: t.url.port, path: readinessPath, timeout: 1000 },
        (res) => {
          t.ready = res.statusCode === 200;
          res.resume();
          resolve();
        },
      );
      req.on("timeout", () => req.destroy(new Error("probe timeout")));
      req.on("error", () => {
        t.ready = false;
        resolve();
      });
      req.end();
    });
  const timer = readinessPath
    ? setInterval(() => void Promise.all(targets.map(probe)), options.probeMs ?? 200)
    : undefined;
  timer?.unref();

  /** The next ready upstream in turn, skipping `avoid`; any upstream when none is ready. */
  const pick = (avoid?: (typeof targets)[number]) => {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[next++ % targets.length]!;
      if (t.ready && t !== avoid) return t;
    }
    return targets[next++ % targets.length]!;
  };

  const forward = (
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    attempt: number,
    avoid?: (typeof targets)[number],
  ) => {
    const target = pick(avoid);
    const upstream = target.url;
    let answered = false;
    const proxied = httpRequest(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, host: upstream.host },
      },
      (response) => {
        answered = true;
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    proxied.on("error", (error) => {
      const retriable =
        !answered && attempt === 0 && (incoming.method === "GET" || incoming.method === "HEAD");
      if (retriable) {
        // That endpoint is going away: take it out until its probe says otherwise.
        target.ready = false;
        forward(incoming, outgoing, attempt + 1, target);
        return;
      }
      if (!outgoing.headersSent) outgoing.writeHead(502, { "content-type": "application/json" });
      outgoing.end(JSON.stringify({ error: "bad_gateway", message: `${upstream.host}: ${error.message}` }));
    });
    if (incoming.method === "GET" || incoming.method === "HEAD") proxied.end();
    else incoming.pipe(proxied);
  };

  const server: Server = createServer((incoming, outgoing) => forward(incoming, outgoing, 0));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  return {
    url: `http://${host}:${actualPort}`,
    close: () =>
      new Promise<void>((resolve) => {
        if (timer) clearInterval(timer);
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
        probeAgent.destroy();
      }),
  };
}
