/**
 * Fail fast on an unreachable network source. kubeconform retries every schema download with
 * back-off for every resource, `go install` and `helm pull` wait on the operating system's connect
 * timeout: offline, each of them hangs for minutes. One TCP connect per host, with a short timeout,
 * tells in seconds whether the host can be reached at all; the caller then stops with ONE error
 * that names the source, what needed it and the offline alternative.
 */
import net from "node:net";

/** Connect timeout for a probe: long enough for a slow link, short enough to fail in seconds. */
export const PROBE_TIMEOUT_MS = 3000;

/** A network source that cannot be reached; the CLI prints the message alone and exits 2. */
export class UnreachableError extends Error {
  override name = "UnreachableError";
}

/** host and port of an http(s) URL (`{{...}}` templates are fine: only the authority is read). */
export function hostPortOf(url: string): { host: string; port: number } | undefined {
  const m = /^(https?):\/\/([^/?#]+)/i.exec(url);
  if (!m) return undefined;
  const authority = m[2]!.replace(/^[^@]*@/, "");
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority);
  const [host, port] = v6 ? [v6[1]!, v6[2]] : authority.split(":");
  return { host: host!, port: port ? Number(port) : m[1]!.toLowerCase() === "https" ? 443 : 80 };
}

/**
 * Resolves with undefined when a TCP connection to host:port opens within the timeout, else with
 * the reason ("connection refused", "timed out after 3 s", "getaddrinfo ENOTFOUND ...").
 */
export function probe(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (reason: string | undefined) => {
      socket.destroy();
      clearTimeout(timer);
      resolve(reason);
    };
    const timer = setTimeout(() => done(`no connection within ${timeoutMs / 1000} s`), timeoutMs);
    socket.once("connect", () => done(undefined));
    socket.once("error", (e: NodeJS.ErrnoException) =>
      done(e.code === "ECONNREFUSED" ? "connection refused" : e.message),
    );
  });
}

/** Probes each distinct host of the URLs once, in parallel; the unreachable ones with reasons. */
export async function unreachable(
  urls: readonly string[],
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<Array<{ url: string; reason: string }>> {
  const byHost = new Map<string, { url: string; host: string; port: number }>();
  for (const url of urls) {
    const hp = hostPortOf(url);
    if (hp && !byHost.has(`${hp.host}:${hp.port}`)) byHost.set(`${hp.host}:${hp.port}`, { url, ...hp });
  }
  const results = await Promise.all(
    [...byHost.values()].map(async (h) => ({ url: h.url, reason: await probe(h.host, h.port, timeoutMs) })),
  );
  return results.filter((r): r is { url: string; reason: string } => r.reason !== undefined);
}
