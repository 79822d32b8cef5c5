/**
 * Metadata: free-form client data kept with an account or a transfer, as a JSON object of
 * bounded size that Postgres' jsonb is sure to store.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type Metadata = Readonly<Record<string, JsonValue>>;

/**
 * Metadata's size bound, in bytes of the text Postgres prints for it (`metadata::text`). The
 * database's CHECK allows twice this, so what passes here always fits there.
 */
export const metadataBytesMax = 4096;

/** How deep metadata may nest. */
export const metadataDepthMax = 16;

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text jsonb cannot hold: the NUL character, and a UTF-16 surrogate without its pair. */
function isUnstorable(text: string): boolean {
  return text.includes('\u0000') || loneSurrogate.test(text);
}

/**
 * A key JavaScript does not keep as data: copying an object sets its prototype from a
 * `__proto__` key instead of keeping the key, so metadata with one would lose it somewhere between
 * the client and the ledger. The API refuses it rather than drop it without a word.
 */
export const forbiddenMetadataKey = '__proto__';

/**
 * Whether a value parsed from JSON has a `__proto__` key, looking at most `depthMax` levels down
 * (deeper metadata is refused for its depth anyway).
 */
export function hasForbiddenMetadataKey(value: unknown, depthMax = metadataDepthMax): boolean {
  if (typeof value !== 'object' || value === null || depthMax <= 0) return false;
  if (Array.isArray(value)) return value.some((element) => hasForbiddenMetadataKey(element, depthMax - 1));
  return (
    Object.hasOwn(value, forbiddenMetadataKey) ||
    Object.values(value).some((element) => hasForbiddenMetadataKey(element, depthMax - 1))
  );
}

/**
 * Validates metadata: a plain JSON object nested at most `metadataDepthMax` deep, with only text
 * jsonb can hold, whose text form in Postgres fits `metadataBytesMax`.
 */
export function parseMetadata(value: unknown): Metadata | undefined {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const bytes = jsonbTextBytes(value, metadataDepthMax, metadataBytesMax);
  return bytes === undefined ? undefined : (value as Metadata);
}

/**
 * The size in bytes of the text Postgres prints for a value stored as jsonb, or undefined when it
 * cannot be stored, nests deeper than `depthMax` or passes `bytesMax`. Postgres prints ": " and
 * ", " between items, and numbers in plain decimal (1e300 is printed with 301 digits), so the
 * compact JSON length says little about the stored size.
 */
export function jsonbTextBytes(value: unknown, depthMax: number, bytesMax: number): number | undefined {
  let total = 0;
  const add = (bytes: number): boolean => {
    total += bytes;
    return total <= bytesMax;
  };
  const visit = (item: unknown, depthLeft: number): boolean => {
    if (item === null || typeof item === 'boolean') return add(String(item).length);
    if (typeof item === 'number')
      return Number.isFinite(item) && add(plainDecimalLength(JSON.stringify(item)));
    if (typeof item === 'string')
      return !isUnstorable(item) && add(Buffer.byteLength(JSON.stringify(item), 'utf8'));
    if (depthLeft <= 0 || typeof item !== 'object') return false;
    if (Array.isArray(item)) {
      // "[" + items joined by ", " + "]"
      if (!add(2 + Math.max(0, item.length - 1) * 2)) return false;
      return item.every((element) => visit(element, depthLeft - 1));
    }
    const entries = Object.entries(item);
    // "{" + `"key": value` joined by ", " + "}"
    if (!add(2 + Math.max(0, entries.length - 1) * 2 + entries.length * 2)) return false;
    return entries.every(
      ([key, element]) =>
        !isUnstorable(key) &&
        add(Buffer.byteLength(JSON.stringify(key), 'utf8')) &&
        visit(element, depthLeft - 1),
    );
  };
  return visit(value, depthMax) ? total : undefined;
}

/**
 * The length of a JSON number as Postgres' numeric prints it: in plain decimal, never with an
 * exponent ("1e+21" is printed as 22 characters, "1.5e-7" as "0.00000015").
 */
function plainDecimalLength(json: string): number {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(json);
  if (match === null) throw new Error(`assertion failed: ${json} is not a JSON number`);
  const [, sign = '', whole = '', fraction = '', exponentText = '0'] = match;
  const allDigits = whole + fraction;
  const digits = allDigits.replace(/^0+/, '');
  if (digits === '') return 1;
  // Where the decimal point falls, counted from the first significant digit.
  const pointAt = whole.length + Number.parseInt(exponentText, 10) - (allDigits.length - digits.length);
  let length: number;
  if (pointAt >= digits.length) length = pointAt;
  else if (pointAt > 0) length = digits.length + 1;
  else length = 2 - pointAt + digits.length;
  return sign.length + length;
}
