/**
 * Runs the mesh simulation helper (scripts/go/mesh-sim): one process per cluster x chapter, a
 * SimInput as JSON on stdin, a SimOutput as JSON on stdout (protocol.ts). The helper is resolved
 * like the pinned tools (MESH_SIM_BIN, else the tool cache, else built there with Go), so a
 * caller only hands over the input.
 */
import { spawn } from "node:child_process";
import { SIM_PROTOCOL_VERSION, type SimInput, type SimOutput } from "./protocol.ts";
import { resolveMeshSim } from "./sim-binary.ts";

export class SimError extends Error {
  constructor(
    message: string,
    /** The helper's stderr (its last lines), when it ran at all. */
    readonly stderr = "",
  ) {
    super(message);
    this.name = "SimError";
  }
}

export interface RunSimOptions {
  /** The helper binary; default: resolved (and built when missing) like a pinned tool. */
  bin?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Kills the helper after this long. A chapter takes ~0.3 s; the default leaves room for a
   * loaded 2-core machine, and a hang (it must never touch the network) fails instead of waiting.
   */
  timeoutMs?: number;
  /** Progress lines while the helper is built for the first time. */
  log?: (line: string) => void;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** The last lines of stderr: Go panics and Istio's logs can be long; the cause is at the end. */
function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

export async function runSim(input: SimInput, options: RunSimOptions = {}): Promise<SimOutput> {
  const env = options.env ?? process.env;
  const bin = options.bin ?? (await resolveMeshSim({ env, ...(options.log ? { log: options.log } : {}) }));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { code, signal, stdout, stderr, timedOut } = await new Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    timedOut: boolean;
  }>((resolve, reject) => {
    const child = spawn(bin, [], { env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new SimError(`could not start the mesh simulation helper ${bin}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
      });
    });
    // A helper that dies before reading all of stdin makes the write fail with EPIPE; the exit
    // status and stderr say why, so the write error itself is not the story.
    child.stdin.on("error", () => {});
    child.stdin.end(JSON.stringify(input));
  });
  if (timedOut) {
    throw new SimError(
      `the mesh simulation helper ${bin} did not finish within ${timeoutMs / 1000}s and was killed`,
      tail(stderr),
    );
  }
  if (code !== 0) {
    const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
    throw new SimError(
      `the mesh simulation helper ${bin} ${how}:\n${tail(stderr) || "(no output on stderr)"}`,
      tail(stderr),
    );
  }
  let output: SimOutput;
  try {
    output = JSON.parse(stdout) as SimOutput;
  } catch (e) {
    throw new SimError(
      `the mesh simulation helper ${bin} printed no valid JSON (${(e as Error).message}); first bytes: ${JSON.stringify(stdout.slice(0, 200))}`,
      tail(stderr),
    );
  }
  if (output.version !== SIM_PROTOCOL_VERSION) {
    throw new SimError(
      `the mesh simulation helper ${bin} speaks protocol version ${String(output.version)}, this checkout ${SIM_PROTOCOL_VERSION}; rebuild it with \`pnpm tools mesh-sim\``,
    );
  }
  return output;
}
