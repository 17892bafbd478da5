/** Types of scripts/launch.mjs for TypeScript importers (the tests). */
export function sourceFiles(dir?: string): string[];
export function bundlePath(entry: string, root?: string): string;
export function buildBundle(entry: string, out: string): Promise<void>;
