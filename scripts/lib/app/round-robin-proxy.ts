// What a plain Kubernetes Service does for `pnpm dev`: spreads requests over the content-generator
// versions in turn, so the portal shows v1, v2 and v3 answering without a mesh.
import { Agent, createServer, request as httpRequest, type Server } from "node:http";

export interface RoundRobinProxy {
  readonly url: string;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(
  upstreams: readonly string[],
  port: number,
  host = "127.0.0.1",
): Promise<RoundRobinProxy> {
  if (upstreams.length === 0) throw new Error("round-robin proxy needs at least one upstream");
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  const server: Server = createServer((incoming, outgoing) => {
    const upstream = new URL(upstreams[next++ % upstreams.length] as string);
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
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    proxied.on("error", (error) => {
      if (!outgoing.headersSent) outgoing.writeHead(502, { "content-type": "application/json" });
      outgoing.end(JSON.stringify({ error: "bad_gateway", message: `${upstream.host}: ${error.message}` }));
    });
    incoming.pipe(proxied);
  });
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
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
