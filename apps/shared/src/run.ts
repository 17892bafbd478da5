import { envInt, envString, type Env } from "./config.ts";
import type { Service } from "./service.ts";

export interface RunOptions {
  readonly port: number;
  readonly host: string;
  /** Time between SIGTERM and closing the listener, while Kubernetes removes the endpoint. */
  readonly shutdownDelayMs: number;
  /** Hard limit for draining; must stay below terminationGracePeriodSeconds. */
  readonly shutdownTimeoutMs: number;
}

export function runOptionsFromEnv(env: Env, defaultPort = 8080): RunOptions {
  return {
    port: envInt(env, "PORT", defaultPort, { min: 0, max: 65535 }),
    host: envString(env, "HOST", "0.0.0.0"),
    shutdownDelayMs: envInt(env, "SHUTDOWN_DELAY_MS", 0, { min: 0 }),
    shutdownTimeoutMs: envInt(env, "SHUTDOWN_TIMEOUT_MS", 20_000, { min: 100 }),
  };
}

/**
 * Listens, then on SIGTERM/SIGINT: fail readiness, wait the delay (new requests still served), stop
 * accepting, let in-flight requests finish, run the services' onClose hooks (pools, queues), exit.
 */
export async function runService(service: Service, options: RunOptions): Promise<void> {
  const { app, lifecycle } = service;
  await app.listen({ port: options.port, host: options.host });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    lifecycle.shuttingDown = true;
    app.log.info({ signal, delayMs: options.shutdownDelayMs }, "shutting down");
    const deadline = setTimeout(() => {
      app.log.error({ timeoutMs: options.shutdownTimeoutMs }, "drain took too long, exiting");
      process.exit(1);
    }, options.shutdownTimeoutMs);
    deadline.unref();
    await new Promise((resolve) => setTimeout(resolve, options.shutdownDelayMs));
    // Connections that go idle after the close started are not closed by it: sweep them.
    const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
    sweep.unref();
    try {
      await app.close();
      app.log.info("stopped");
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, "error while stopping");
      process.exit(1);
    }
  };
  // `on`, not `once`: a repeated signal (a relaying wrapper, an impatient Ctrl-C) must not fall back
  // to the default action and kill the process halfway through draining.
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** Entry-point wrapper: configuration errors print one clear line and exit 1. */
export function main(start: () => Promise<void>): void {
  start().catch((error: unknown) => {
    console.error(
      JSON.stringify({ level: "fatal", msg: error instanceof Error ? error.message : String(error) }),
    );
    process.exit(1);
  });
}
