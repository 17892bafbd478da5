/** Image metadata as the API speaks it, and the rules a request must follow. */
export const IMAGE_FORMATS = ["png", "jpeg", "gif", "webp"] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export interface Image {
  readonly id: string;
  readonly name: string;
  readonly title: string;
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
  readonly owner: string;
  /** Who named the image: "content-generator v2", or "fallback" when it could not be reached. */
  readonly nameSource: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface NewImage {
  readonly title: string;
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
}

const dimension = { type: "integer", minimum: 1, maximum: 20_000 } as const;

export const newImageSchema = {
  type: "object",
  additionalProperties: false,
  required: ["title", "format", "width", "height"],
  properties: {
    title: { type: "string", minLength: 1, maxLength: 200 },
    format: { type: "string", enum: IMAGE_FORMATS },
    width: dimension,
    height: dimension,
  },
} as const;

export const replaceImageSchema = {
  type: "object",
  additionalProperties: false,
  required: ["id"],
  minProperties: 2,
  properties: { id: { type: "string", format: "uuid" }, ...newImageSchema.properties },
} as const;

/** "Leverage Holistic Paradigms ★" -> "leverage-holistic-paradigms-1a2b3c" */
export function imageNameFrom(text: string, suffix: string): string {
  const slug = text
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .replace(/-+$/, "");
  return `${slug === "" ? "image" : slug}-${suffix}`;
}
