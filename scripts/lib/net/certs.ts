/**
 * Throwaway certificates made with the openssl command, for the servers the tools start on
 * 127.0.0.1 (the private kube-apiserver) and the tests' HTTPS stand-ins: a CA and leaves it signs,
 * EC P-256, written into `dir` as `<name>.key` / `<name>.crt`.
 */
import { spawnSync } from "node:child_process";

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.error || r.status !== 0)
    throw new Error(
      `openssl ${args[0]} failed (${r.error?.message ?? r.stderr.trim().split("\n").slice(-2).join(" ")}); making certificates needs the openssl command`,
    );
}

/** A self-signed CA, `ca.key` / `ca.crt`. */
export function makeCa(dir: string, commonName: string, days: number): void {
  openssl(
    [
      "req",
      "-x509",
      ...EC,
      "-days",
      String(days),
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-subj",
      `/CN=${commonName}`,
    ],
    dir,
  );
}

/** A leaf signed by the CA of `dir`: its subject and one extension (SANs, a key usage). */
export function signLeaf(dir: string, name: string, subject: string, extension: string, days: number): void {
  openssl(
    [
      "req",
      "-x509",
      ...EC,
      "-days",
      String(days),
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
      "-subj",
      subject,
      "-addext",
      extension,
    ],
    dir,
  );
}
