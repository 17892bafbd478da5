/**
 * A CustomResourceDefinition's served versions as kubeconform JSON schemas, converted the way
 * kubeconform's scripts/openapi2jsonschema.py does: every object below the root that lists
 * `properties` is closed (`additionalProperties: false`) unless it already says otherwise or keeps
 * unknown fields (`x-kubernetes-preserve-unknown-fields`), int-or-string becomes
 * `oneOf: [string, integer]`, `nullable: true` also accepts null. `x-kubernetes-validations` (the
 * CEL rules, which kubeconform ignores) stay in, so the CEL layer can read them from the same file.
 * Pure: objects in, objects out.
 */

export interface CrdSchemaFile {
  /** `crds/<group>/<kind>_<version>.json`: the CRDs-catalog layout the schema locations use. */
  path: string;
  schema: Record<string, unknown>;
}

type Json = unknown;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function convert(node: Json, root: boolean): Json {
  if (Array.isArray(node)) return node.map((n) => convert(n, false));
  if (!isObj(node)) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    // Under `properties` the keys are field names, not schema keywords: convert each field's schema.
    if ((k === "properties" || k === "patternProperties") && isObj(v)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([f, s]) => [f, convert(s, false)]));
    } else if (k === "x-kubernetes-validations" || k === "default" || k === "enum" || k === "example") {
      // Values, not schemas.
      out[k] = v;
    } else {
      out[k] = convert(v, false);
    }
  }
  if (out.format === "int-or-string" || out["x-kubernetes-int-or-string"] === true) {
    delete out.type;
    delete out.format;
    out.oneOf = [{ type: "string" }, { type: "integer" }];
  }
  if (out.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  if (
    !root &&
    "properties" in out &&
    !("additionalProperties" in out) &&
    out["x-kubernetes-preserve-unknown-fields"] !== true
  )
    out.additionalProperties = false;
  return out;
}

/** One schema per served version of the CRD; [] when it is not a CRD with structural schemas. */
export function crdSchemas(crd: unknown): CrdSchemaFile[] {
  if (!isObj(crd) || crd.kind !== "CustomResourceDefinition") return [];
  const spec = isObj(crd.spec) ? crd.spec : {};
  const names = isObj(spec.names) ? spec.names : {};
  if (typeof spec.group !== "string" || typeof names.kind !== "string" || !Array.isArray(spec.versions))
    return [];
  const out: CrdSchemaFile[] = [];
  for (const v of spec.versions) {
    if (!isObj(v) || typeof v.name !== "string" || v.served === false) continue;
    const schema = isObj(v.schema) && isObj(v.schema.openAPIV3Schema) ? v.schema.openAPIV3Schema : undefined;
    if (!schema) continue;
    out.push({
      path: `crds/${spec.group}/${names.kind.toLowerCase()}_${v.name}.json`,
      schema: convert(schema, true) as Record<string, unknown>,
    });
  }
  return out;
}
