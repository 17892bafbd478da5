import type { ServiceIdentity } from "../../shared/src/identity.ts";
import type { ReceivedEvent } from "../../shared/src/queue.ts";

/** A message the (pretend) mail server accepted; what GET /messages lists. */
export interface SentMessage {
  readonly eventId: string;
  readonly eventType: string;
  readonly to: string;
  readonly subject: string;
  readonly body: string;
  readonly traceId: string;
  readonly sentAt: string;
  readonly sentBy: ServiceIdentity;
}

interface MessagePayload {
  to?: unknown;
  subject?: unknown;
  body?: unknown;
  notify?: unknown;
  image?: { name?: unknown; title?: unknown };
  id?: unknown;
}

const str = (value: unknown, fallback: string) =>
  typeof value === "string" && value !== "" ? value : fallback;

/** Turns a queue event into the mail it causes; pure so every event type is tested directly. */
export function mailFor(event: ReceivedEvent, sentBy: ServiceIdentity, now: Date): SentMessage {
  const payload = (event.payload ?? {}) as MessagePayload;
  const base = {
    eventId: event.id,
    eventType: event.type,
    traceId: event.traceId,
    sentAt: now.toISOString(),
    sentBy,
  };
  const recipient = `${str(payload.notify, "someone")}@workshop.local`;
  switch (event.type) {
    case "message.requested":
      return {
        ...base,
        to: str(payload.to, "nobody@workshop.local"),
        subject: str(payload.subject, "(no subject)"),
        body: str(payload.body, ""),
      };
    case "image.saved":
      return {
        ...base,
        to: recipient,
        subject: `Image saved: ${str(payload.image?.title, "untitled")}`,
        body: `Your image was stored as "${str(payload.image?.name, "?")}".`,
      };
    case "image.replaced":
      return {
        ...base,
        to: recipient,
        subject: `Image updated: ${str(payload.image?.title, "untitled")}`,
        body: `The metadata of "${str(payload.image?.name, "?")}" changed.`,
      };
    case "image.deleted":
      return {
        ...base,
        to: recipient,
        subject: "Image deleted",
        body: `Image ${str(payload.id, "?")} is gone.`,
      };
    default:
      return { ...base, to: recipient, subject: `Event ${String(event.type)}`, body: "" };
  }
}
