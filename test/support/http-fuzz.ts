/**
 * The HTTP fuzzer's parts: generators of requests (valid ones, one-field corruptions, garbage
 * bodies, headers, paths, sizes and encodings) and a reference model of the contract, written
 * apart from the product's schemas, that says for each request which answers are right: the 2xx
 * of a valid request, or the problem (status, type, field) of a refused one.
 *
 * Bodies are built as JSON text, not serialised values, so that what no JavaScript value can
 * carry reaches the API: `1e400`, `-0`, duplicate keys, a `__proto__` key, lone surrogates.
 * The model reads the body back the way a client's JSON would be read (UTF-8, then JSON.parse:
 * the last of duplicate keys wins), so it judges what the server sees.
 */
import fc from 'fast-check';
import { atomicSetLegCountMax } from '../../shared/domain/atomic-set';
import { batchItemCountMax } from '../../shared/domain/batch';
import { metadataBytesMax, metadataDepthMax } from '../../shared/domain/metadata';
import { amountMax, parseCurrency } from '../../shared/domain/money';
import { pendingTimeoutSMax, pendingTimeoutSMin } from '../../shared/domain/transfer';
import { requestBodyBytesMax } from '../../shared/handlers/http';

// ---------------------------------------------------------------------------------------------
// JSON as text

/** A piece of JSON text, sent as it is. */
export type Fragment = string;

const text = (value: unknown): Fragment => JSON.stringify(value);

/** An object from entries, in order, duplicates kept. */
export function objectText(entries: readonly (readonly [string, Fragment])[]): Fragment {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;
}

const nilUuid = '00000000-0000-0000-0000-000000000000';

/** Values that break parsers and validators: JSON edge cases, as text. */
const edgeFragments: readonly Fragment[] = [
  '1e400',
  '-1e400',
  '-0',
  '0',
  '1',
  '-1',
  '1.5',
  '1e2',
  '1.0',
  '65535',
  '65536',
  '86400',
  '86401',
  '2592000',
  '2592001',
  '1000',
  '1001',
  '9007199254740993',
  '123456789012345678901234567890',
  '1e-400',
  '5e-324',
  '1.7976931348623157e308',
  'true',
  'false',
  'null',
  '[]',
  '{}',
  '""',
  '"\\u0000"',
  '"a\\u0000b"',
  '"\\ud800"',
  '"\\udc00x"',
  '"\\ud83d\\ude00"',
  '"\\ufeff"',
  '"USD"',
  '"usd"',
  '"XXX"',
  '"0"',
  '"00"',
  '"01"',
  '"1"',
  '"-1"',
  '"+1"',
  '" 1"',
  '"1 "',
  '"1e3"',
  '"1.5"',
  '"9223372036854775807"',
  '"9223372036854775808"',
  '"99999999999999999999999999"',
  text(nilUuid),
  text('0189ABCD-0000-4000-8000-000000000000'),
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '[1,2,3]',
  '{"a":1,"a":2}',
];

/** Nesting `depth` containers deep. */
export function nested(depth: number, kind: 'array' | 'object'): Fragment {
  return kind === 'array'
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Any JSON value a client might send where one field is expected, as text. */
export const garbageFragment: fc.Arbitrary<Fragment> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...edgeFragments) },
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(text) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(text) },
  { weight: 1, arbitrary: fc.constantFrom(1_000, 20_000).map((length) => text('9'.repeat(length))) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(1_000, 20_000)),
        fc.constantFrom('array' as const, 'object' as const),
      )
      .map(([depth, kind]) => nested(depth, kind)),
  },
  { weight: 1, arbitrary: fc.uuid().map(text) },
);

// ---------------------------------------------------------------------------------------------
// The reference model of the contract

/**
 * What the model expects of one part of a request: nothing wrong, or the fields a 400 may name
 * (several when a value sits where the model cannot tell, e.g. metadata near its size bound),
 * and whether the request may also pass.
 */
export interface Judgement {
  /** Fields a 400 may name; `null` stands for the body as a whole (no field). */
  readonly fields: readonly (string | null)[];
  readonly mayPass: boolean;
}

const passes: Judgement = { fields: [], mayPass: true };

type FieldCheck = (value: unknown) => 'valid' | 'invalid' | 'unsure';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const isId: FieldCheck = (value) =>
  typeof value === 'string' && uuidPattern.test(value) && value !== nilUuid ? 'valid' : 'invalid';

const isAmount: FieldCheck = (value) =>
  typeof value === 'string' && /^[1-9][0-9]*$/.test(value) && BigInt(value) <= amountMax
    ? 'valid'
    : 'invalid';

const isCurrency: FieldCheck = (value) => (parseCurrency(value) === undefined ? 'invalid' : 'valid');

const isWholeNumberIn =
  (min: number, max: number): FieldCheck =>
  (value) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max
      ? 'valid'
      : 'invalid';

const orNull =
  (check: FieldCheck): FieldCheck =>
  (value) =>
    value === null ? 'valid' : check(value);

const isBoolean: FieldCheck = (value) => (typeof value === 'boolean' ? 'valid' : 'invalid');

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Metadata: a plain object, at most `metadataDepthMax` containers deep, no NUL or lone surrogate
 * in any key or string, only finite numbers, no `__proto__` key (JavaScript cannot keep one as
 * data), and small enough. Its stored size is judged loosely: small is valid, larger than the
 * bound even written compactly is invalid, and between the two either answer is right.
 */
const isMetadata: FieldCheck = (value) => {
  if (!isPlainObject(value)) return 'invalid';
  let exponentNumbers = false;
  const storable = (item: unknown, depth: number): boolean => {
    if (item === null || typeof item === 'boolean') return true;
    if (typeof item === 'number') {
      if (/e/i.test(String(item))) exponentNumbers = true;
      return Number.isFinite(item);
    }
    if (typeof item === 'string') return !item.includes('\u0000') && !loneSurrogate.test(item);
    if (typeof item !== 'object' || depth > metadataDepthMax) return false;
    if (Array.isArray(item)) return item.every((element) => storable(element, depth + 1));
    return Object.entries(item).every(
      ([key, element]) =>
        key !== '__proto__' &&
        !key.includes('\u0000') &&
        !loneSurrogate.test(key) &&
        storable(element, depth + 1),
    );
  };
  if (!storable(value, 1)) return 'invalid';
  const compactBytes = Buffer.byteLength(JSON.stringify(value), 'utf8');
  if (compactBytes > metadataBytesMax) return 'invalid';
  return compactBytes <= 1_500 && !exponentNumbers ? 'valid' : 'unsure';
};

/** A strict object's fields, in the order the API checks them, and a check across them. */
export interface ObjectShape {
  readonly fields: readonly {
    readonly name: string;
    readonly required: boolean;
    readonly check: FieldCheck | ObjectShape;
  }[];
  /**
   * A rule across fields, checked only when every field passed: the field a failure names,
   * relative to the object ('' for the object itself).
   */
  readonly across?: (value: Record<string, unknown>) => string | undefined;
}

const flagsShape: ObjectShape = {
  fields: [
    { name: 'debits_must_not_exceed_credits', required: false, check: isBoolean },
    { name: 'credits_must_not_exceed_debits', required: false, check: isBoolean },
  ],
  across: (flags) =>
    flags.debits_must_not_exceed_credits === true && flags.credits_must_not_exceed_debits === true
      ? ''
      : undefined,
};

export const velocityShape: ObjectShape = {
  fields: [
    { name: 'window_s', required: false, check: orNull(isWholeNumberIn(1, 86_400)) },
    { name: 'max_transfers', required: false, check: orNull(isWholeNumberIn(1, 1_000)) },
    { name: 'max_amount', required: false, check: orNull(isAmount) },
  ],
};

export const accountShape: ObjectShape = {
  fields: [
    { name: 'currency', required: true, check: isCurrency },
    { name: 'flags', required: false, check: flagsShape },
    { name: 'code', required: false, check: isWholeNumberIn(0, 65_535) },
    { name: 'metadata', required: false, check: isMetadata },
    { name: 'velocity', required: false, check: velocityShape },
  ],
};

export const transferShape: ObjectShape = {
  fields: [
    { name: 'debit_account_id', required: true, check: isId },
    { name: 'credit_account_id', required: true, check: isId },
    { name: 'amount', required: true, check: isAmount },
    { name: 'currency', required: true, check: isCurrency },
    { name: 'metadata', required: false, check: isMetadata },
    { name: 'pending', required: false, check: isBoolean },
    { name: 'timeout_s', required: false, check: isWholeNumberIn(pendingTimeoutSMin, pendingTimeoutSMax) },
  ],
  across: (transfer) =>
    transfer.debit_account_id === transfer.credit_account_id
      ? 'credit_account_id'
      : transfer.timeout_s !== undefined && transfer.pending !== true
        ? 'timeout_s'
        : undefined,
};

/** An item of a batch: a transfer, and never a pending one (its rules after the transfer's). */
export const batchItemShape: ObjectShape = {
  fields: transferShape.fields,
  across: (transfer) =>
    transferShape.across?.(transfer) ?? (transfer.pending === true ? 'pending' : undefined),
};

/** The batch as a whole: its items are judged one by one (`batchItemShape`) and never refuse it. */
export const batchShape: ObjectShape = {
  fields: [
    {
      name: 'transfers',
      required: true,
      check: (value) =>
        Array.isArray(value) && value.length >= 1 && value.length <= batchItemCountMax ? 'valid' : 'invalid',
    },
    { name: 'atomic', required: false, check: isBoolean },
  ],
  // The handler's own rule, after the schema's: an atomic batch holds fewer items.
  across: (batch) =>
    batch.atomic === true && Array.isArray(batch.transfers) && batch.transfers.length > atomicSetLegCountMax
      ? 'transfers'
      : undefined,
};

/** The body of a post of a pending transfer, and of a reversal: an amount (or all), metadata. */
export const partialAmountShape: ObjectShape = {
  fields: [
    { name: 'amount', required: false, check: isAmount },
    { name: 'metadata', required: false, check: isMetadata },
  ],
};

/** The body of a void: metadata only. */
export const voidShape: ObjectShape = {
  fields: [{ name: 'metadata', required: false, check: isMetadata }],
};

/**
 * Judges a parsed body against a shape, as the API reports it: the first field that fails, in
 * the shape's order (a nested object's own unknown keys after its fields), then the first
 * unknown key, then the rule across fields.
 */
export function judgeObject(value: unknown, shape: ObjectShape, path: readonly string[] = []): Judgement {
  const here = path.length === 0 ? null : path.join('.');
  if (!isPlainObject(value)) return { fields: [here], mayPass: false };
  const fields: (string | null)[] = [];
  for (const field of shape.fields) {
    const fieldPath = [...path, field.name];
    const name = fieldPath.join('.');
    if (!Object.hasOwn(value, field.name)) {
      if (field.required) return { fields: [...fields, name], mayPass: false };
      continue;
    }
    const judgement =
      typeof field.check === 'function'
        ? judgeValue(field.check(value[field.name]), name)
        : judgeObject(value[field.name], field.check, fieldPath);
    fields.push(...judgement.fields);
    if (!judgement.mayPass) return { fields, mayPass: false };
  }
  const known = new Set(shape.fields.map((field) => field.name));
  const unknown = Object.keys(value).find((key) => !known.has(key));
  if (unknown !== undefined) return { fields: [...fields, [...path, unknown].join('.')], mayPass: false };
  const across = shape.across?.(value);
  if (across !== undefined) {
    const acrossPath = across === '' ? here : [...path, across].join('.');
    return { fields: [...fields, acrossPath], mayPass: false };
  }
  return { fields, mayPass: true };
}

function judgeValue(verdict: 'valid' | 'invalid' | 'unsure', field: string): Judgement {
  if (verdict === 'valid') return passes;
  return { fields: [field], mayPass: verdict === 'unsure' };
}

/** Query parameters a route reads: each judged on its own, in the order the API checks them. */
export type QueryShape = readonly {
  readonly name: string;
  readonly check: FieldCheck;
  readonly required?: boolean;
}[];

const isPageLimit: FieldCheck = (value) =>
  typeof value === 'string' && /^[1-9][0-9]{0,3}$/.test(value) && Number.parseInt(value, 10) <= 200
    ? 'valid'
    : 'invalid';

/** A cursor the API made is base64url text; anything else surely is not one. */
const isCursor: FieldCheck = (value) =>
  typeof value === 'string' && /^[A-Za-z0-9_-]{1,60}$/.test(value) ? 'unsure' : 'invalid';

/** The base64url of a decimal id: a cursor of the kind the entries and flags pages make. */
export function entryCursor(id: bigint): string {
  return Buffer.from(id.toString(), 'utf8').toString('base64url');
}

/** The last value of each name, as the API reads a query string. */
export function judgeQuery(query: readonly (readonly [string, string])[], shape: QueryShape): Judgement {
  const values = new Map(query);
  const fields: string[] = [];
  for (const parameter of shape) {
    if (!values.has(parameter.name)) {
      if (parameter.required === true) return { fields: [...fields, parameter.name], mayPass: false };
      continue;
    }
    const verdict = parameter.check(values.get(parameter.name));
    if (verdict === 'valid') continue;
    fields.push(parameter.name);
    if (verdict === 'invalid') return { fields, mayPass: false };
  }
  return { fields, mayPass: true };
}

export const pageQuery: QueryShape = [
  { name: 'limit', check: isPageLimit },
  { name: 'cursor', check: isCursor },
];
export const activityQuery: QueryShape = [
  { name: 'cursor', check: isCursor },
  { name: 'limit', check: isPageLimit },
];
/**
 * An RFC 3339 instant with seconds and an offset, year 0001 or later: surely valid when its day
 * exists in every month (1 to 28), maybe valid (a 29th to 31st, which depends on the month and
 * year) when it has the shape, invalid otherwise.
 */
const isInstant: FieldCheck = (value) => {
  if (typeof value !== 'string' || value.startsWith('0000')) return 'invalid';
  const time = 'T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';
  if (new RegExp(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])${time}`).test(value)) return 'valid';
  if (new RegExp(`^[0-9]{4}-(0[1-9]|1[0-2])-(29|30|31)${time}`).test(value)) return 'unsure';
  return 'invalid';
};

/** The entries of an account: a page, and optionally only those posted by an instant. */
export const entriesQuery: QueryShape = [...pageQuery, { name: 'as_of', check: isInstant }];

/** The balance as of an instant, which the route requires. */
export const balanceQuery: QueryShape = [{ name: 'as_of', check: isInstant, required: true }];

/**
 * A step of the chain's verification: after an entry (0 is the start; another id is valid only
 * if the sealer has sealed it, which the model cannot know), at most 100,000 links.
 */
export const verificationQuery: QueryShape = [
  {
    name: 'after_entry_id',
    check: (value) =>
      typeof value !== 'string' || !/^(0|[1-9][0-9]{0,18})$/.test(value) || BigInt(value) > amountMax
        ? 'invalid'
        : value === '0'
          ? 'valid'
          : 'unsure',
  },
  {
    name: 'limit',
    check: (value) =>
      typeof value === 'string' && /^[1-9][0-9]{0,5}$/.test(value) && Number.parseInt(value, 10) <= 100_000
        ? 'valid'
        : 'invalid',
  },
];

export const adminTransfersQuery: QueryShape = [
  {
    name: 'status',
    check: (value) => (value === 'posted' || value === 'rejected' ? 'valid' : 'invalid'),
  },
  { name: 'limit', check: isPageLimit },
  { name: 'cursor', check: isId },
];

/** An Idempotency-Key after the HTTP parser trimmed it: 1 to 255 printable ASCII characters. */
export function isIdempotencyKey(value: string): boolean {
  return value.length >= 1 && value.length <= 255 && /^[\x20-\x7E]+$/.test(value);
}

/** An id in a path: a lower-case UUID, not nil. */
export function isPathId(value: string): boolean {
  return isId(value) === 'valid';
}

/** A file of the built dashboard, as the asset route takes it. */
export function isAssetName(value: string): boolean {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(value);
}

/**
 * How the API reads a body: too large, not UTF-8, empty, or not JSON are refused before anything
 * looks inside; otherwise the parsed value.
 */
export function readBody(
  bytes: Buffer,
  bodyBytesMax: number = requestBodyBytesMax,
  optional = false,
): { kind: 'too-large' } | { kind: 'malformed' } | { kind: 'json'; value: unknown } {
  if (bytes.byteLength > bodyBytesMax) return { kind: 'too-large' };
  let body: string;
  try {
    body = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { kind: 'malformed' };
  }
  // A route whose body is optional reads an empty one as `{}`.
  if (body.trim() === '') return optional ? { kind: 'json', value: {} } : { kind: 'malformed' };
  try {
    return { kind: 'json', value: JSON.parse(body) };
  } catch {
    return { kind: 'malformed' };
  }
}

// ---------------------------------------------------------------------------------------------
// Bodies

/** A valid body of a shape's fields, given generators of each valid value. */
export type ValidFields = Readonly<Record<string, fc.Arbitrary<Fragment>>>;

/** Small metadata that is surely storable. */
export const validMetadata: fc.Arbitrary<Fragment> = fc
  .dictionary(
    fc.string({ unit: 'grapheme', maxLength: 12 }).filter((key) => key !== '__proto__'),
    fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.integer({ min: -1_000_000, max: 1_000_000 }),
      fc.boolean(),
      fc.constant(null),
    ),
    { maxKeys: 5 },
  )
  .map(text);

/** Invalid metadata of the kinds the API must refuse. */
export const invalidMetadata: fc.Arbitrary<Fragment> = fc.oneof(
  fc.constantFrom(
    '[]',
    '"text"',
    '1',
    'null',
    '{"a":1e400}',
    '{"a":"\\u0000"}',
    '{"\\u0000":1}',
    '{"a":"\\ud800"}',
    '{"\\udfff":1}',
    '{"__proto__":{"polluted":true}}',
    '{"a":{"__proto__":1}}',
    `{"a":"${'x'.repeat(metadataBytesMax)}"}`,
  ),
  // One container deeper than the bound, and deeper still.
  fc.integer({ min: metadataDepthMax + 1, max: 5_000 }).map((depth) => nested(depth, 'object')),
);

/** The deepest metadata the API takes: `metadataDepthMax` objects, the last holding a number. */
export const deepestMetadata: Fragment = nested(metadataDepthMax, 'object');

export { atomicSetLegCountMax, batchItemCountMax, requestBodyBytesMax };
