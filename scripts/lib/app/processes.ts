// Service processes for `pnpm dev` and `pnpm bench:app`: each app's real entry point in its own Node
// process, its JSON log lines either passed through or printed as one short readable line.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface AppProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
}

export interface AppProcessOptions {
  /** Label in the log prefix, e.g. "content-generator v2". */
  readonly name: string;
  readonly service: string;
  readonly env: Record<string, string>;
  /** Receives each output line; default: a compact line on stdout. */
  readonly onLine?: (name: string, line: string) => void;
}

/** `12:01:02 content-generator v2 info request completed trace=4bf9…` from a JSON log line. */
export function compactLogLine(name: string, line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const time = typeof entry["time"] === "string" ? entry["time"].slice(11, 19) : "";
    const extras = ["method", "url", "status", "durationMs", "traceId"]
      .filter((key) => entry[key] !== undefined)
      .map((key) => `${key}=${key === "durationMs" ? Number(entry[key]).toFixed(1) : String(entry[key])}`)
      .join(" ");
    return `${time} ${name.padEnd(22)} ${String(entry["level"] ?? "").padEnd(5)} ${String(entry["msg"] ?? "")} ${extras}`.trimEnd();
  } catch {
    return `${name.padEnd(31)} ${line}`;
  }
}

/**
 * What `pnpm dev` gives every service unless the environment sets it: drain like the chart does.
 * After SIGTERM a service fails /readyz and keeps serving this long, the round-robin proxy (which
 * probes /readyz every 200 ms) stops sending it requests, and only then does the listener close,
 * so nothing in flight or on its way gets a 502. Shorter than the chart's 5 s: Ctrl-C waits for it.
 */
export const DEV_SERVICE_DEFAULTS: Readonly<Record<string, string>> = { SHUTDOWN_DELAY_MS: "1500" };

export function spawnApp(options: AppProcessOptions): AppProcess {
  const child = spawn(process.execPath, ["--import", "tsx", `apps/${options.service}/src/main.ts`], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const print = options.onLine ?? ((name: string, line: string) => console.log(compactLogLine(name, line)));
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = "";
    stream?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) if (line.trim() !== "") print(options.name, line);
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { name: options.name, child, exited };
}

/** Polls `url` until it answers 2xx. */
export async function waitForHttp(url: string, timeoutMs = 30_000, process?: AppProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process && process.child.exitCode !== null)
      throw new Error(`${process.name} exited with ${process.child.exitCode}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not up yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopApp(app: AppProcess, graceMs = 10_000): Promise<number | null> {
  if (app.child.exitCode !== null) return app.child.exitCode;
  app.child.kill("SIGTERM");
  const timer = setTimeout(() => app.child.kill("SIGKILL"), graceMs);
  const code = await app.exited;
  clearTimeout(timer);
  return code;
}
