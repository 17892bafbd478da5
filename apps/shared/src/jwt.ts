import { errors, jwtVerify, type JWTVerifyGetKey, type KeyObject } from "jose";

/** The claims the workshop's tokens carry; `group` drives the authorization lessons. */
export interface Principal {
  readonly sub: string;
  readonly group: string;
}

export interface TokenExpectations {
  readonly issuer: string;
  readonly audience: string;
}

/** Only asymmetric algorithms: `none` and HMAC (which a public key could forge) are refused. */
export const ACCEPTED_ALGORITHMS = ["ES256", "RS256"];

export class InvalidTokenError extends Error {
  override name = "InvalidTokenError";
  readonly statusCode = 401;
}

export async function verifyAccessToken(
  token: string,
  key: KeyObject | JWTVerifyGetKey,
  expected: TokenExpectations,
): Promise<Principal> {
  try {
    const { payload } = await jwtVerify(token, key as JWTVerifyGetKey, {
      issuer: expected.issuer,
      audience: expected.audience,
      algorithms: ACCEPTED_ALGORITHMS,
      requiredClaims: ["sub", "exp", "iat"],
    });
    if (typeof payload.sub !== "string" || typeof payload["group"] !== "string") {
      throw new InvalidTokenError("token lacks sub or group");
    }
    return { sub: payload.sub, group: payload["group"] };
  } catch (error) {
    throw new InvalidTokenError(describeTokenError(error));
  }
}

export function describeTokenError(error: unknown): string {
  if (error instanceof InvalidTokenError) return error.message;
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWTClaimValidationFailed)
    return `claim ${error.claim} invalid: ${error.reason}`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "signature does not match any known key";
  if (error instanceof errors.JWKSNoMatchingKey) return "signed with an unknown key";
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return "malformed token";
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The token from `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header && /^Bearer\s+(\S+)$/i.exec(header);
  return match ? match[1] : undefined;
}
