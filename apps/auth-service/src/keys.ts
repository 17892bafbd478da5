import { readFile } from "node:fs/promises";
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, type JWK } from "jose";

export interface SigningKeys {
  readonly alg: "ES256" | "RS256";
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicJwk: JWK;
  /** "generated" or the file it came from, reported by /status-like logs, never the key itself. */
  readonly source: string;
}

/** The JWS algorithm a key can sign with: ES256 for P-256, RS256 for RSA. */
export function algorithmFor(key: KeyObject): "ES256" | "RS256" {
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  if (key.asymmetricKeyType === "rsa") return "RS256";
  throw new Error(`unsupported signing key: ${key.asymmetricKeyType} (use an EC P-256 or RSA key)`);
}

export async function signingKeysFrom(privateKey: KeyObject, source: string): Promise<SigningKeys> {
  const alg = algorithmFor(privateKey);
  const publicKey = createPublicKey(privateKey);
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { alg, kid, privateKey, publicKey, publicJwk: { ...jwk, kid, alg, use: "sig" }, source };
}

/**
 * A key mounted from a Secret when a file is named, else a fresh ES256 pair. A generated key lives only
 * in this process: fine for one replica and for the lessons, which is why the chart mounts a Secret
 * when auth-service runs more than one pod.
 */
export async function loadOrGenerateKeys(privateKeyFile: string): Promise<SigningKeys> {
  if (privateKeyFile !== "") {
    const pem = await readFile(privateKeyFile, "utf8");
    return signingKeysFrom(createPrivateKey(pem), privateKeyFile);
  }
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return signingKeysFrom(privateKey, "generated");
}
