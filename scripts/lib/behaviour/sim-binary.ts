/**
 * Where the mesh simulation helper binary comes from: it is a pinned tool built from this
 * repository (`mesh-sim` in scripts/lib/tools/pins.ts, `goSource` scripts/go/mesh-sim), so it
 * resolves like the others: `MESH_SIM_BIN`, else the tool cache entry keyed by version and a hash
 * of its sources, else a `go build` into that entry (`pnpm tools mesh-sim` does it up front).
 */
import { resolveTool } from "../tools/resolve.ts";

export async function resolveMeshSim(
  options: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {},
): Promise<string> {
  return resolveTool("mesh-sim", options);
}
