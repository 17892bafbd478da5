import { timingSafeEqual, createHash } from "node:crypto";
import { SignJWT } from "jose";
import type { DemoUser } from "./config.ts";
import type { SigningKeys } from "./keys.ts";

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
}

export async function issueToken(
  keys: SigningKeys,
  user: Pick<DemoUser, "username" | "group">,
  settings: TokenSettings,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<string> {
  return new SignJWT({ group: user.group })
    .setProtectedHeader({ alg: keys.alg, kid: keys.kid, typ: "JWT" })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(user.username)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + settings.ttlSeconds)
    .sign(keys.privateKey);
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** The user whose name and password match, compared in constant time. */
export function findUser(
  users: readonly DemoUser[],
  username: string,
  password: string,
): DemoUser | undefined {
  const user = users.find((candidate) => candidate.username === username);
  const expected = digest(user?.password ?? "\u0000no such user");
  const matches = timingSafeEqual(expected, digest(password));
  return user && matches ? user : undefined;
}
