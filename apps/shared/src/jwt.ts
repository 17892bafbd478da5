import { errors, jwtVerify, type JWTVerifyGetKey, type KeyObject } from "jose";

/** The claims the workshop's tokens carry; `group` drives the authorization lessons. */
export interface Principal {
  readonly sub: string;
  readonly group: string;
}

export interface TokenExpectations {
  readonly issuer: string;
  readonly audience: string;
  /**
   * The longest lifetime (`exp - iat`) accepted, and the oldest `iat`. Defaults to the issuer's
   * upper bound (TOKEN_TTL_SECONDS may be at most a day); the auth service passes its own TTL.
   */
  readonly maxLifetimeSeconds?: number;
}

/** Clocks of the issuer and the verifier may disagree this much (`iat`, `nbf`, `exp`). */
export const CLOCK_SKEW_SECONDS = 60;
/** The auth service's largest TOKEN_TTL_SECONDS: nothing it issues lives longer. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 86_400;
/** `typ` values of a JWT access token (RFC 7519, RFC 9068); any other declared type is refused. */
const ACCEPTED_TYPES = new Set(["jwt", "at+jwt", "application/jwt", "application/at+jwt"]);

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
    const maxLifetime = expected.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
    const { payload, protectedHeader } = await jwtVerify(token, key as JWTVerifyGetKey, {
      issuer: expected.issuer,
      audience: expected.audience,
      algorithms: ACCEPTED_ALGORITHMS,
      requiredClaims: ["sub", "exp", "iat"],
      // With maxTokenAge jose also refuses an `iat` in the future (beyond the tolerance): a token
      // "issued" tomorrow would otherwise outlive any key rotation or revocation.
      clockTolerance: CLOCK_SKEW_SECONDS,
      maxTokenAge: maxLifetime,
    });
    // `typ` is optional, but a token that declares another type (an ID token, a logout token) is
    // not an access token, whoever signed it.
    if (protectedHeader.typ !== undefined && !ACCEPTED_TYPES.has(protectedHeader.typ.toLowerCase())) {
      throw new InvalidTokenError(`token typ '${protectedHeader.typ}' is not an access token (JWT)`);
    }
    // exp far beyond what the issuer hands out: a leaked signing key, or a token minted elsewhere.
    if (typeof payload.iat === "number" && typeof payload.exp === "number") {
      if (payload.exp - payload.iat > maxLifetime + CLOCK_SKEW_SECONDS) {
        throw new InvalidTokenError(
          `token lifetime ${payload.exp - payload.iat} s is beyond the issuer's ${maxLifetime} s`,
        );
      }
    }
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
