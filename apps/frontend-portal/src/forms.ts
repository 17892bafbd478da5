/** Turns browser form fields (all strings) into the JSON the backends expect, or says what is wrong. */
export type FormResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: string[] };

type Fields = Record<string, unknown>;

const text = (fields: Fields, name: string) => (typeof fields[name] === "string" ? fields[name].trim() : "");

function wholeNumber(fields: Fields, name: string, errors: string[]): number {
  const raw = text(fields, name);
  if (!/^\d+$/.test(raw)) {
    errors.push(`${name} must be a whole number`);
    return 0;
  }
  return Number(raw);
}

export function imageForm(
  fields: Fields,
): FormResult<{ title: string; format: string; width: number; height: number }> {
  const errors: string[] = [];
  const value = {
    title: text(fields, "title"),
    format: text(fields, "format"),
    width: wholeNumber(fields, "width", errors),
    height: wholeNumber(fields, "height", errors),
  };
  // Everything else (lengths, formats, ranges) is the image processor's to check and explain.
  return errors.length === 0 ? { ok: true, value } : { ok: false, errors };
}

export function messageForm(fields: Fields): FormResult<{ to: string; subject: string; body: string }> {
  return {
    ok: true,
    value: { to: text(fields, "to"), subject: text(fields, "subject"), body: text(fields, "body") },
  };
}

export function loginForm(fields: Fields): FormResult<{ username: string; password: string }> {
  const username = text(fields, "username");
  const password = typeof fields["password"] === "string" ? fields["password"] : "";
  const errors = [
    ...(username === "" ? ["username is required"] : []),
    ...(password === "" ? ["password is required"] : []),
  ];
  return errors.length === 0 ? { ok: true, value: { username, password } } : { ok: false, errors };
}
