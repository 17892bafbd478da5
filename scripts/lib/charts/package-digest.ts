/**
 * The digest a chart package is pinned by: sha256 over the files inside the .tgz (path and bytes,
 * in path order), not over the archive. `helm package` writes timestamps into the archive, so two
 * packagings of the same chart files differ byte for byte (the offline mirror's README says so);
 * what Argo CD's repo server renders is the files, and those are what the pin must hold fixed.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";

export interface TarEntry {
  path: string;
  data: Buffer;
}

const BLOCK = 512;

function field(block: Buffer, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString("utf8");
}

/** PAX extended header records: `<len> key=value\n`. */
function paxPath(data: Buffer): string | undefined {
  const text = data.toString("utf8");
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(" ", at);
    const len = Number(text.slice(at, space));
    if (!Number.isFinite(len) || len <= 0) return undefined;
    const record = text.slice(space + 1, at + len - 1);
    const eq = record.indexOf("=");
    if (record.slice(0, eq) === "path") return record.slice(eq + 1);
    at += len;
  }
  return undefined;
}

/** Regular files of a (gzipped) tar archive; ustar, PAX and GNU long names. */
export function readTarGz(archive: Buffer): TarEntry[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(archive);
  } catch (e) {
    throw new Error(`not a gzip archive (${(e as Error).message})`);
  }
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = parseInt(field(header, 124, 12).trim() || "0", 8);
    if (!Number.isFinite(size) || size < 0) throw new Error(`corrupt tar header at byte ${offset}`);
    const type = String.fromCharCode(header[156] ?? 0);
    const prefix = field(header, 345, 155);
    const name = field(header, 0, 100);
    const dataStart = offset + BLOCK;
    if (dataStart + size > tar.length) throw new Error(`truncated tar entry '${name}'`);
    const data = tar.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === "g") continue;
    const fullName = longName ?? (prefix ? `${prefix}/${name}` : name);
    longName = undefined;
    if (type === "0" || type === "\0") entries.push({ path: fullName, data: Buffer.from(data) });
  }
  return entries;
}

/** `sha256:<hex>` over the package's files, independent of archive timestamps and compression. */
export function chartContentDigest(archive: Buffer): string {
  const entries = readTarGz(archive).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  if (entries.length === 0) throw new Error("the archive holds no files");
  const h = createHash("sha256");
  for (const e of entries)
    h.update(e.path).update("\0").update(String(e.data.length)).update("\0").update(e.data);
  return `sha256:${h.digest("hex")}`;
}

/** The chart's Chart.yaml inside the package (`<chart>/Chart.yaml`). */
export function chartYamlOf(archive: Buffer): string | undefined {
  const entry = readTarGz(archive).find((e) => /^[^/]+\/Chart\.yaml$/.test(e.path));
  return entry?.data.toString("utf8");
}
