// Runs a service's real entry point (src/main.ts) as its own process, the way the container does.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export interface ServiceProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

export async function spawnService(service: string, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", `apps/${service}/src/main.ts`], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(entry["msg"]));
          if (match) resolve(match[1] as string);
        } catch {
          // Not a log line.
        }
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    void exited.then((code) => reject(new Error(`${service} exited (${code}) before listening: ${stderr}`)));
    setTimeout(() => reject(new Error(`${service} did not start in 20 s: ${stderr}`)), 20_000).unref();
  });
  return { url, child, logs, exited };
}
