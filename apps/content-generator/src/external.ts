import { describeFetchError } from "../../shared/src/http-client.ts";

/**
 * The outbound call to the outside world for the egress lesson. Under an Istio REGISTRY_ONLY outbound
 * policy without a ServiceEntry this fails, and the response says so instead of failing the request.
 */
export type ExternalResult =
  | { readonly ok: true; readonly url: string; readonly status: number; readonly snippet: string }
  | { readonly ok: false; readonly url: string; readonly fallback: string; readonly reason: string };

export const FALLBACK_TEXT = "(the outside world is unreachable, here is a local fallback)";

/** The first 200 characters of the reply, JSON flattened to one line. */
export function snippetOf(body: string): string {
  let text = body.trim();
  try {
    text = JSON.stringify(JSON.parse(text));
  } catch {
    // Not JSON: keep the text as it came.
  }
  return text.replace(/\s+/g, " ").slice(0, 200);
}

/**
 * `traceHeaders` are the request's outbound trace headers (empty with propagation off), so the egress
 * gateway's span joins the request's trace. The routing headers (who the user is) stay inside.
 */
export async function callExternalApi(
  url: string,
  timeoutMs: number,
  traceHeaders: Readonly<Record<string, string>> = {},
): Promise<ExternalResult> {
  try {
    const response = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      headers: { ...traceHeaders, accept: "application/json, text/plain" },
    });
    const body = await response.text();
    if (!response.ok) return { ok: false, url, fallback: FALLBACK_TEXT, reason: `HTTP ${response.status}` };
    return { ok: true, url, status: response.status, snippet: snippetOf(body) };
  } catch (error) {
    return { ok: false, url, fallback: FALLBACK_TEXT, reason: describeFetchError(error, timeoutMs) };
  }
}
