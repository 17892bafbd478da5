import type { Served } from "../../shared/src/service.ts";
import type { Part } from "./parts.ts";
import type { SessionUser } from "./session.ts";

/** What the portal shows of the backends' answers; only the fields the page reads. */
export interface ContentBody extends Record<string, unknown> {
  text?: string;
  bsType?: number;
  style?: { color?: string; label?: string };
  external?: { ok: boolean; url: string; snippet?: string; fallback?: string; reason?: string };
}
export interface ImagesBody extends Record<string, unknown> {
  images?: {
    id: string;
    name: string;
    title: string;
    format: string;
    width: number;
    height: number;
    owner: string;
    nameSource: string;
  }[];
}
export interface MessagesBody extends Record<string, unknown> {
  messages?: {
    eventId: string;
    to: string;
    subject: string;
    sentAt: string;
    traceId: string;
    sentBy: { pod: string };
  }[];
}

export interface Flash {
  readonly kind: "success" | "error";
  readonly title: string;
  readonly details: readonly string[];
  readonly part?: Part;
  /**
   * Trace of the form request that called the part. The page showing the flash comes from the
   * redirect's GET, a trace of its own: the part must be compared with the request that made it.
   */
  readonly traceId?: string;
}

export interface PageModel {
  readonly title: string;
  readonly portal: Served;
  readonly user?: SessionUser;
  readonly content: readonly Part<ContentBody>[];
  readonly images: Part<ImagesBody>;
  readonly messages: Part<MessagesBody>;
  readonly flash?: Flash;
}

export function escapeHtml(value: unknown): string {
  return String(value ?? "")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

const VERSION_COLORS: Record<string, string> = { v1: "#2b6cb0", v2: "#2f855a", v3: "#6b46c1" };

/**
 * The "served by" chip: service, version, pod and trace id of one part. A trace id different from
 * the page's means the trace broke on the way (header propagation off), which the chip points out.
 */
export function servedChip(served: Served | undefined, pageTraceId: string): string {
  if (!served) return `<span class="chip chip-unknown" data-testid="served">served by: unknown</span>`;
  const color = VERSION_COLORS[served.version] ?? "#4a5568";
  const sameTrace = served.traceId === pageTraceId;
  return `<span class="chip" data-testid="served" data-service="${escapeHtml(served.service)}" data-version="${escapeHtml(served.version)}" data-trace="${sameTrace ? "same" : "different"}">
<b>${escapeHtml(served.service)}</b> <span class="version" style="background:${color}">${escapeHtml(served.version)}</span>
pod <code>${escapeHtml(served.pod)}</code> trace <code>${escapeHtml(served.traceId.slice(0, 16))}</code>${
    sameTrace
      ? ""
      : ` <span class="broken" title="this part was served in another trace">⚠ different trace</span>`
  }</span>`;
}

function failure(part: Part): string {
  return `<p class="failure" data-testid="failure"><b>${escapeHtml(part.peer)}</b> failed: ${
    part.status === 0 ? "no answer" : `HTTP ${part.status}`
  } — ${escapeHtml(part.error ?? "")}</p>`;
}

function contentCard(part: Part<ContentBody>, pageTraceId: string): string {
  const body = part.body;
  if (!part.ok || !body?.text)
    return `<article class="card">${failure(part)}${servedChip(part.served, pageTraceId)}</article>`;
  const color = body.style?.color ?? "#4a5568";
  const external = body.external
    ? body.external.ok
      ? `<p class="external" data-testid="external">from ${escapeHtml(body.external.url)}: <code>${escapeHtml(body.external.snippet)}</code></p>`
      : `<p class="external fallback" data-testid="external">${escapeHtml(body.external.fallback)} (${escapeHtml(body.external.reason)})</p>`
    : "";
  return `<article class="card" style="border-left-color:${color}" data-testid="content-card">
<p class="bs" style="color:${color}" data-testid="content-text">${escapeHtml(body.text)}</p>
${external}${servedChip(part.served, pageTraceId)}</article>`;
}

function imagesTable(part: Part<ImagesBody>, pageTraceId: string): string {
  if (!part.ok) return failure(part) + servedChip(part.served, pageTraceId);
  const rows = (part.body?.images ?? [])
    .map(
      (image) =>
        `<tr><td>${escapeHtml(image.title)}</td><td><code>${escapeHtml(image.name)}</code></td><td>${escapeHtml(image.format)} ${image.width}×${image.height}</td><td>${escapeHtml(image.owner)}</td><td>${escapeHtml(image.nameSource)}</td></tr>`,
    )
    .join("");
  return `${servedChip(part.served, pageTraceId)}
<div class="table-scroll"><table data-testid="images"><thead><tr><th>Title</th><th>Name</th><th>Format</th><th>Owner</th><th>Named by</th></tr></thead><tbody>${
    rows || `<tr><td colspan="5">no images yet</td></tr>`
  }</tbody></table></div>`;
}

function messagesTable(part: Part<MessagesBody>, pageTraceId: string): string {
  if (!part.ok) return failure(part) + servedChip(part.served, pageTraceId);
  const rows = (part.body?.messages ?? [])
    .map(
      (message) =>
        `<tr><td>${escapeHtml(message.to)}</td><td>${escapeHtml(message.subject)}</td><td>${escapeHtml(message.sentAt)}</td><td><code>${escapeHtml(message.traceId.slice(0, 16))}</code></td></tr>`,
    )
    .join("");
  return `${servedChip(part.served, pageTraceId)}
<div class="table-scroll"><table data-testid="messages"><thead><tr><th>To</th><th>Subject</th><th>Sent at</th><th>Trace</th></tr></thead><tbody>${
    rows || `<tr><td colspan="4">no messages yet</td></tr>`
  }</tbody></table></div>`;
}

function flashBox(flash: Flash, pageTraceId: string): string {
  const details = flash.details.map((detail) => `<li>${escapeHtml(detail)}</li>`).join("");
  const formTrace = flash.traceId ?? pageTraceId;
  const traceNote = flash.traceId
    ? `<p class="hint">form request trace <code data-testid="flash-trace-id">${escapeHtml(flash.traceId)}</code></p>`
    : "";
  return `<section class="flash flash-${flash.kind}" data-testid="flash" role="status">
<h2>${escapeHtml(flash.title)}</h2>${details ? `<ul>${details}</ul>` : ""}
${flash.part ? servedChip(flash.part.served, formTrace) : ""}${traceNote}</section>`;
}

function userBox(user: SessionUser | undefined): string {
  if (!user) return `<span data-testid="user">not logged in</span>`;
  return `<span data-testid="user">logged in as <b>${escapeHtml(user.sub)}</b> (${escapeHtml(user.group)})</span>
<form method="post" action="/logout" class="inline"><button type="submit">Log out</button></form>`;
}

function loginSection(user: SessionUser | undefined): string {
  if (user) return "";
  return `<section><h2>Log in</h2>
<form method="post" action="/login" data-testid="login-form">
<label>User <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button></form>
<p class="hint">Demo users: alice / wonderland (admins), bob / builder (users).</p></section>`;
}

function actionSections(user: SessionUser | undefined): string {
  const disabled = user ? "" : " disabled";
  const note = user ? "" : `<p class="hint">Log in to use this form.</p>`;
  return `<section><h2>Upload image metadata</h2>${note}
<form method="post" action="/upload-image" data-testid="image-form"><fieldset${disabled}>
<label>Title <input name="title" required maxlength="200"></label>
<label>Format <select name="format"><option>png</option><option>jpeg</option><option>gif</option><option>webp</option></select></label>
<label>Width <input name="width" inputmode="numeric" value="640"></label>
<label>Height <input name="height" inputmode="numeric" value="480"></label>
<button type="submit">Save image</button></fieldset></form></section>
<section><h2>Send a message</h2>${note}
<form method="post" action="/send-message" data-testid="message-form"><fieldset${disabled}>
<label>To <input name="to" type="email" required></label>
<label>Subject <input name="subject" required maxlength="200"></label>
<label>Message <textarea name="body" required maxlength="5000"></textarea></label>
<button type="submit">Send</button></fieldset></form></section>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;background:#f7fafc;color:#1a202c}
header{background:#1a365d;color:#fff;padding:.8rem 1.5rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
header h1{font-size:1.2rem;margin:0 1rem 0 0}header .chip{background:#2c5282;color:#fff}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(340px,100%),1fr));gap:1rem;padding:1rem 1.5rem}
section{background:#fff;border-radius:8px;padding:1rem;box-shadow:0 1px 3px #0002}
section.wide{grid-column:1/-1}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(260px,100%),1fr));gap:.8rem}
.card{border-left:6px solid #4a5568;padding:.5rem .8rem;background:#f7fafc;border-radius:4px}
.bs{font-size:1.1rem;font-weight:600}.chip{display:inline-block;font-size:.8rem;background:#edf2f7;border-radius:12px;padding:.2rem .6rem;margin:.2rem 0}
.version{color:#fff;border-radius:8px;padding:0 .4rem}.broken{color:#c53030;font-weight:700}
.failure{color:#c53030}.external{font-size:.85rem;color:#4a5568}.fallback{font-style:italic}
.flash-success{border-left:6px solid #38a169}.flash-error{border-left:6px solid #e53e3e}
label{display:block;margin:.3rem 0}input,select,textarea{width:100%;box-sizing:border-box;padding:.3rem}
fieldset{border:0;padding:0;margin:0}form.inline{display:inline}table{width:100%;border-collapse:collapse;font-size:.85rem}
td,th{border-bottom:1px solid #e2e8f0;padding:.25rem;text-align:left}.hint{color:#718096;font-size:.85rem}
section{min-width:0}.table-scroll{overflow-x:auto;max-width:100%}code{overflow-wrap:anywhere}.chip{max-width:100%;box-sizing:border-box;overflow-wrap:anywhere}
@media (max-width:600px){main{padding:.5rem}header{padding:.6rem .8rem}}`;

export function renderPage(model: PageModel): string {
  const trace = model.portal.traceId;
  const cards = model.content.map((part) => contentCard(part, trace)).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(model.title)}</title><style>${STYLE}</style></head>
<body data-trace-id="${escapeHtml(trace)}">
<header><h1>${escapeHtml(model.title)}</h1>${servedChip(model.portal, trace)}
<span>page trace <code data-testid="trace-id">${escapeHtml(trace)}</code></span>${userBox(model.user)}</header>
<main>
${model.flash ? flashBox(model.flash, trace) : ""}
<section class="wide"><h2>Generated content</h2><div class="cards">${cards}</div></section>
${loginSection(model.user)}${actionSections(model.user)}
<section class="wide"><h2>Recent images</h2>${imagesTable(model.images, trace)}</section>
<section class="wide"><h2>Sent messages</h2>${messagesTable(model.messages, trace)}</section>
</main></body></html>`;
}
