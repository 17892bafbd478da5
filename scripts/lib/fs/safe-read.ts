/**
 * Reading a file of the repository that anyone could have put there: only regular files, and only
 * up to a size limit. `readFile` on a symlink to /dev/zero reads until the string is too long (a
 * RangeError after seconds and gigabytes), on a FIFO it waits forever, and on a symlink loop it
 * throws ELOOP; here each of them is a refusal with a reason, and nothing blocks.
 */
import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";

export type SafeRead = { ok: true; text: string } | { ok: false; reason: string; hint: string };

const describe = (st: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  isDirectory(): boolean;
}) =>
  st.isFIFO()
    ? "a FIFO (named pipe)"
    : st.isCharacterDevice() || st.isBlockDevice()
      ? "a device"
      : st.isSocket()
        ? "a socket"
        : st.isDirectory()
          ? "a folder"
          : "not a regular file";

export async function readRegularFile(file: string, maxBytes: number): Promise<SafeRead> {
  let size: number;
  try {
    // stat follows symlinks: what matters is what reading would reach.
    const st = await stat(file);
    if (!st.isFile()) {
      return {
        ok: false,
        reason: `is ${describe(st)}, not a regular file; not read`,
        hint: "keep only regular YAML files here; remove it, or replace the link by the file it should be",
      };
    }
    size = st.size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP")
      return {
        ok: false,
        reason: "is a symlink loop (ELOOP); not read",
        hint: "remove the link, or point it at a real file",
      };
    if (code === "ENOENT")
      return {
        ok: false,
        reason: "is a dangling symlink; not read",
        hint: "remove the link, or point it at a real file",
      };
    return {
      ok: false,
      reason: `cannot be read (${code ?? (e as Error).message})`,
      hint: "check the file's permissions",
    };
  }
  if (size > maxBytes) {
    return {
      ok: false,
      reason: `is ${size} bytes, over the limit of ${maxBytes}; not read`,
      hint: "split the file, or raise limits.maxBytes in .validate.yaml if it is really meant to be this big",
    };
  }
  // O_NONBLOCK: should the file have been swapped for a FIFO since the stat, opening does not wait
  // for a writer; the fstat below then refuses it. Reading stops at maxBytes + 1 whatever happens.
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile())
      return {
        ok: false,
        reason: `is ${describe(st)}, not a regular file; not read`,
        hint: "keep only regular files here",
      };
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(64 * 1024, maxBytes + 1 - length));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, length);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes)
        return {
          ok: false,
          reason: `grew past the limit of ${maxBytes} bytes while being read; not read`,
          hint: "split the file",
        };
    }
    return { ok: true, text: Buffer.concat(chunks).toString("utf8") };
  } finally {
    await handle.close();
  }
}
