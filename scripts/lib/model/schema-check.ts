/**
 * Checks a parsed YAML document against one of the project's JSON Schemas and turns ajv's
 * errors into findings that point at the offending key, with a hint a person can act on.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { Finding } from "../findings.ts";
import { parseYaml, pointerToPath, type ParsedDocument } from "../yaml-source.ts";

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const compiled = new Map<object, ValidateFunction>();

function validatorFor(schema: object): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

export function checkAgainstSchema(
  doc: ParsedDocument,
  schema: object,
  rule: string,
  what: string,
): Finding[] {
  const validate = validatorFor(schema);
  if (validate(doc.value)) return [];
  const errors = simplify(validate.errors ?? []);
  return errors.map((e) => toFinding(doc, e, rule, what));
}

/**
 * ajv reports every failed branch of a oneOf/if-then; keep the errors a person needs:
 * drop the umbrella "must match a schema in oneOf" when a more precise error exists at the same place.
 */
function simplify(errors: ErrorObject[]): ErrorObject[] {
  const precise = errors.filter((e) => e.keyword !== "oneOf" && e.keyword !== "if" && e.keyword !== "allOf");
  const chosen = precise.length > 0 ? precise : errors;
  const seen = new Set<string>();
  return chosen.filter((e) => {
    const k = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function toFinding(doc: ParsedDocument, e: ErrorObject, rule: string, what: string): Finding {
  const path = pointerToPath(e.instancePath);
  const where = e.instancePath === "" ? "the top level" : `'${path.join(".")}'`;
  let key = path.join(".");
  let message: string;
  let hint: string;
  let position = doc.positionOf(path, "key");
  switch (e.keyword) {
    case "additionalProperties": {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      key = [...path, extra].join(".");
      position = doc.positionOf([...path, extra], "key");
      const allowed = allowedKeys(e);
      message = `unknown key '${extra}' in ${where} of ${what}`;
      hint = allowed.length
        ? `remove it or use one of: ${allowed.join(", ")}`
        : "remove it; this object takes no such key";
      break;
    }
    case "required": {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      key = [...path, missing].join(".");
      message = `missing required key '${missing}' in ${where} of ${what}`;
      hint = `add '${missing}'`;
      break;
    }
    case "enum": {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      message = `${where} of ${what} is ${JSON.stringify(valueAt(doc.value, path))}, not one of the allowed values`;
      hint = `use one of: ${allowed.map((a) => JSON.stringify(a)).join(", ")}`;
      break;
    }
    case "type": {
      message = `${where} of ${what} must be ${(e.params as { type: string }).type}`;
      hint = `change the value to a ${(e.params as { type: string }).type}`;
      break;
    }
    case "pattern": {
      message = `${where} of ${what} is ${JSON.stringify(valueAt(doc.value, path))}, which does not match ${(e.params as { pattern: string }).pattern}`;
      hint = describePattern(path);
      break;
    }
    default: {
      message = `${where} of ${what} ${e.message ?? "is invalid"}`;
      hint = "see the schema referenced in the file's yaml-language-server line";
    }
  }
  return {
    ...position,
    rule,
    severity: "error",
    anchors: [],
    message,
    hint: key ? `${hint} [key: ${key}]` : hint,
  };
}

function allowedKeys(e: ErrorObject): string[] {
  const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props ? Object.keys(props) : [];
}

function valueAt(value: unknown, path: Array<string | number>): unknown {
  let v: unknown = value;
  for (const p of path) v = (v as Record<string | number, unknown> | undefined)?.[p];
  return v;
}

function describePattern(path: Array<string | number>): string {
  const last = path[path.length - 1];
  if (last === "chapter") return "use a chapter folder name such as 05-installing-istio";
  if (last === "name") return "use a DNS label: lower-case letters, digits and '-'";
  return "change the value to match the pattern";
}

/**
 * Parses a file that must hold exactly one YAML document and checks it against a schema:
 * the shared first step of loading cluster.yaml and chapter.yaml.
 */
export function parseSingleDocument(
  text: string,
  file: string,
  schema: object,
  rule: string,
  what: string,
): { doc?: ParsedDocument; findings: Finding[] } {
  const parsed = parseYaml(text, file);
  if (parsed.findings.length) return { findings: parsed.findings };
  const doc = parsed.documents[0];
  if (!doc || parsed.documents.length !== 1) {
    const message = `expected exactly one YAML document in ${file}, found ${parsed.documents.length}`;
    return {
      findings: [
        {
          file,
          line: 1,
          column: 1,
          rule,
          severity: "error",
          anchors: [],
          message,
          hint: `keep one ${what} per file`,
        },
      ],
    };
  }
  const findings = checkAgainstSchema(doc, schema, rule, what);
  return findings.length ? { findings } : { doc, findings };
}
