/**
 * Corporate nonsense ("bs") in three sizes. The three versions share the words but differ visibly,
 * so a learner sees at a glance which version answered.
 */
const VERBS = [
  "leverage",
  "synergize",
  "disrupt",
  "orchestrate",
  "streamline",
  "monetize",
  "empower",
  "reimagine",
];
const ADJECTIVES = [
  "scalable",
  "cloud-native",
  "holistic",
  "frictionless",
  "mission-critical",
  "zero-trust",
  "agile",
];
const NOUNS = ["paradigms", "meshes", "synergies", "value streams", "deliverables", "sidecars", "ecosystems"];
const OPENERS = ["Going forward,", "At the end of the day,", "In this space,", "Moving the needle,"];

export const BS_TYPES = [1, 2, 3] as const;
export type BsType = (typeof BS_TYPES)[number];

/** A source of numbers in [0, 1); Math.random in production, a fixed sequence in tests. */
export type Random = () => number;

export interface Generated {
  readonly text: string;
  /** Presentation hints the portal uses: a colour and a label per version. */
  readonly style: { readonly color: string; readonly label: string };
}

const STYLES: Record<string, Generated["style"]> = {
  v1: { color: "#2b6cb0", label: "classic" },
  v2: { color: "#2f855a", label: "enthusiastic" },
  v3: { color: "#6b46c1", label: "shouting" },
};

function pick<T>(items: readonly T[], random: Random): T {
  return items[Math.floor(random() * items.length) % items.length] as T;
}

function phrase(random: Random): string {
  return `${pick(VERBS, random)} ${pick(ADJECTIVES, random)} ${pick(NOUNS, random)}`;
}

function sentence(random: Random): string {
  return `${pick(OPENERS, random)} we ${phrase(random)}.`;
}

export function plainText(bsType: BsType, random: Random): string {
  switch (bsType) {
    case 1:
      return phrase(random);
    case 2:
      return sentence(random);
    case 3:
      return [sentence(random), sentence(random), sentence(random)].join(" ");
  }
}

/**
 * v1 says it plainly, v2 title-cases it with a star, v3 shouts; unknown versions fall back to v1.
 * A star rather than an emoji: it renders with the fonts a bare Linux browser has.
 */
export function styleForVersion(text: string, version: string): string {
  switch (version) {
    case "v2":
      return `${text.replace(/\b\p{L}/gu, (letter) => letter.toUpperCase())} ★`;
    case "v3":
      return `${text.toUpperCase().replace(/\.$/, "")}!!!`;
    default:
      return text;
  }
}

export function generate(bsType: BsType, version: string, random: Random): Generated {
  return {
    text: styleForVersion(plainText(bsType, random), version),
    style: STYLES[version] ?? { color: "#4a5568", label: version },
  };
}
