import type { Flash } from "./page.ts";
import { readCookie } from "./session.ts";

const FLASH_COOKIE = "workshop_flash";

/** Only what the page shows of a flash: the part's body stays out of the cookie. */
export function flashCookie(flash: Flash): string {
  const slim: Flash = {
    kind: flash.kind,
    title: flash.title.slice(0, 200),
    details: flash.details.slice(0, 5).map((detail) => detail.slice(0, 300)),
    ...(flash.traceId ? { traceId: flash.traceId.slice(0, 64) } : {}),
    ...(flash.part
      ? {
          part: {
            peer: flash.part.peer,
            ok: flash.part.ok,
            status: flash.part.status,
            latencyMs: flash.part.latencyMs,
            served: flash.part.served,
          },
        }
      : {}),
  };
  return `${FLASH_COOKIE}=${encodeURIComponent(JSON.stringify(slim))}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60`;
}

export function clearFlashCookie(): string {
  return `${FLASH_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}

export function readFlash(cookieHeader: string | undefined): Flash | undefined {
  const raw = readCookie(cookieHeader, FLASH_COOKIE);
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<Flash>;
    if ((parsed.kind !== "success" && parsed.kind !== "error") || typeof parsed.title !== "string")
      return undefined;
    return {
      kind: parsed.kind,
      title: parsed.title,
      details: Array.isArray(parsed.details) ? parsed.details.map(String) : [],
      part: parsed.part,
      ...(typeof parsed.traceId === "string" ? { traceId: parsed.traceId } : {}),
    };
  } catch {
    return undefined;
  }
}
