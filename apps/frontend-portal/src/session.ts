import { decodeJwt } from "jose";

export interface SessionUser {
  readonly sub: string;
  readonly group: string;
  readonly expiresAt: number;
}

/**
 * Who the session cookie says is logged in, for display and the forms' login check only. This does not
 * verify the token: the backends (or the mesh) do, on every call that needs it, and the routing headers
 * come from a token the portal verified (app.ts).
 */
export function sessionUser(
  token: string | undefined,
  nowSeconds = Date.now() / 1000,
): SessionUser | undefined {
  if (!token) return undefined;
  try {
    const claims = decodeJwt(token);
    if (typeof claims.sub !== "string" || typeof claims.exp !== "number" || claims.exp <= nowSeconds)
      return undefined;
    return {
      sub: claims.sub,
      group: typeof claims["group"] === "string" ? claims["group"] : "",
      expiresAt: claims.exp,
    };
  } catch {
    return undefined;
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key !== name) continue;
    try {
      return decodeURIComponent(value.join("="));
    } catch {
      // A malformed % escape (a hand-edited or truncated cookie): as if there were no cookie.
      return undefined;
    }
  }
  return undefined;
}

export function sessionCookie(name: string, token: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${name}=${encodeURIComponent(token)}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Lax",
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}
