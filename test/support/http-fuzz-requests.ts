/**
 * Fuzz requests for every HTTP route of `functions/index.ts`, each with the answers the reference
 * model (`http-fuzz.ts`) accepts; the senders that put them on the wire (or hand them to the
 * handler as API Gateway would); and the check every answer must pass.
 */
import http from 'node:http';
import net from 'node:net';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import fc from 'fast-check';
import type { HttpFunction } from '../../shared/definitions';
import { pendingTimeoutSMax, pendingTimeoutSMin } from '../../shared/domain/transfer';
import { problemTypeBase } from '../../shared/handlers/problem';
import {
  accountShape,
  activityQuery,
  adminTransfersQuery,
  atomicSetLegCountMax,
  balanceQuery,
  batchItemCountMax,
  batchItemShape,
  batchShape,
  deepestMetadata,
  entriesQuery,
  entryCursor,
  type Fragment,
  garbageFragment,
  invalidMetadata,
  isAssetName,
  isIdempotencyKey,
  isPathId,
  type Judgement,
  judgeObject,
  judgeQuery,
  nested,
  type ObjectShape,
  objectText,
  pageQuery,
  partialAmountShape,
  type QueryShape,
  readBody,
  requestBodyBytesMax,
  transferShape,
  validMetadata,
  velocityShape,
  verificationQuery,
  voidShape,
} from './http-fuzz';

/** One answer the model accepts: a status, and for a problem its type and the fields it may name. */
export interface Outcome {
  readonly status: number;
  readonly slug?: string;
  /** The fields a 400 may name (`null`: none); left out, any. */
  readonly fields?: readonly (string | null)[];
  /** What is wrong with a 2xx answer's body, or undefined (left out, the body is not judged). */
  readonly bodyFault?: (body: unknown) => string | undefined;
}

/** The answers a request may get: exactly these, or (for what no model can predict) any 4xx problem. */
export type Expected =
  | { readonly kind: 'one-of'; readonly outcomes: readonly Outcome[] }
  | { readonly kind: 'any-4xx' }
  /** Bytes a lenient parser may read as a request: a 2xx, or a 4xx problem. */
  | { readonly kind: 'not-5xx' };

/** What the generated requests refer to: the fixtures the test made before fuzzing. */
export interface FuzzFixtures {
  readonly apiKey: string;
  /** Accounts transfers are sent between; never given velocity limits of their own. */
  readonly transferAccounts: readonly string[];
  /** Accounts whose velocity limits requests may change. */
  readonly velocityAccounts: readonly string[];
  /** Transfers recorded before fuzzing: posted, or pending; each credits `transferAccounts[1]`. */
  readonly transferIds: readonly string[];
  /** Batches recorded before fuzzing. */
  readonly batchIds: readonly string[];
  /** Empty accounts that requests freeze and unfreeze (and never close). */
  readonly freezeAccounts: readonly string[];
  /** Empty accounts that requests close (and never freeze). */
  readonly closeAccounts: readonly string[];
  /** An account closed before fuzzing: it takes no freeze or unfreeze. */
  readonly closedAccount: string;
  /** Accounts with a posted balance that is not zero, which nothing moves: they never close. */
  readonly unclosableAccounts: readonly string[];
  readonly assetFiles: readonly string[];
}

/** What the model knows of a route beyond its definition: its request's shapes and its answers. */
interface RouteModel {
  readonly body?: ObjectShape;
  /** Whether an empty body (or none) reads as `{}`. */
  readonly bodyOptional?: boolean;
  readonly query?: QueryShape;
  readonly idempotencyKey?: boolean;
  readonly parameter?: { readonly name: string; readonly valid: (value: string) => boolean };
  /**
   * The answer to a valid request: a status (with what its body must say), a 404 for a resource
   * that does not exist, or the 409 of a state that refuses it.
   */
  readonly success: (parameter: string | undefined, fixtures: FuzzFixtures, body: unknown) => Outcome;
}

const found = (status: number): Outcome => ({ status });
const notFound: Outcome = { status: 404, slug: 'not-found' };
const accountParameter = { name: 'id', valid: isPathId };
const transferParameter = { name: 'id', valid: isPathId };

/** A field of a 2xx body, as text for a fault message. */
function fieldOf(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

/** A 202 for a queued command of `kind`, naming `reference` in `field` when it names another transfer. */
function queued(
  kind: string,
  reference?: { readonly field: string; readonly id: string | undefined },
): Outcome {
  return {
    status: 202,
    bodyFault: (body) => {
      if (fieldOf(body, 'status') !== 'queued') return `status ${JSON.stringify(fieldOf(body, 'status'))}`;
      if (fieldOf(body, 'kind') !== kind) return `kind ${JSON.stringify(fieldOf(body, 'kind'))}, not ${kind}`;
      if (reference !== undefined && fieldOf(body, reference.field) !== reference.id)
        return `${reference.field} ${JSON.stringify(fieldOf(body, reference.field))}, not ${reference.id}`;
      return undefined;
    },
  };
}

/** A 200 with the account in `status`. */
function accountIn(status: 'open' | 'frozen' | 'closed'): Outcome {
  return {
    status: 200,
    bodyFault: (body) =>
      fieldOf(body, 'status') === status
        ? undefined
        : `account ${JSON.stringify(fieldOf(body, 'status'))}, not ${status}`,
  };
}

/**
 * The answer to a freeze, unfreeze or close of an account the generators send: each fixture
 * account takes one kind of action only, so its state at any moment is known however the
 * requests interleave (a frozen account's close, say, would depend on their order).
 */
function accountActionAnswer(
  action: 'freeze' | 'unfreeze' | 'close',
  id: string | undefined,
  fixtures: FuzzFixtures,
): Outcome {
  if (id === undefined || !isKnownAccount(id, fixtures)) return notFound;
  if (id === fixtures.closedAccount)
    return action === 'close' ? accountIn('closed') : problem(409, 'account-closed');
  if (action !== 'close' && fixtures.freezeAccounts.includes(id))
    return accountIn(action === 'freeze' ? 'frozen' : 'open');
  if (action === 'close' && fixtures.closeAccounts.includes(id)) return accountIn('closed');
  if (action === 'close' && fixtures.unclosableAccounts.includes(id))
    return problem(409, 'account-not-closable');
  throw new Error(`test: the generators never ${action} account ${id}`);
}

/**
 * The 202 of a batch, judged item by item: a valid item is queued, an invalid one refused with
 * a 400 naming its field from the request's root (`transfers.3.amount`). An atomic batch is all
 * queued, or none: then each valid item answers 422 linked_transfer_failed. The fixtures' windows
 * are wide enough that no item is refused 429.
 */
function batchAnswer(body: unknown): Outcome {
  const transfers = fieldOf(body, 'transfers') as readonly unknown[];
  const atomic = fieldOf(body, 'atomic') === true;
  const judgements = transfers.map((item, index) =>
    judgeObject(item, batchItemShape, ['transfers', String(index)]),
  );
  return {
    status: 202,
    bodyFault: (answer) => {
      const items = fieldOf(answer, 'items');
      if (!Array.isArray(items) || items.length !== judgements.length)
        return 'items are not one per request item';
      if (fieldOf(answer, 'atomic') !== atomic) return `atomic ${JSON.stringify(fieldOf(answer, 'atomic'))}`;
      const queuedCount = items.filter((item) => fieldOf(item, 'status') === 'queued').length;
      if (fieldOf(answer, 'queued_count') !== queuedCount) return 'queued_count is not the queued items';
      if ((fieldOf(answer, 'batch_id') === null) !== (queuedCount === 0))
        return 'batch_id is null exactly when nothing was queued, and it is not so';
      if (atomic && queuedCount !== 0 && queuedCount !== items.length)
        return 'an atomic batch queued in part';
      for (const [index, item] of items.entries()) {
        const judgement = judgements[index] as Judgement;
        const problemOf = fieldOf(item, 'problem');
        const fault =
          fieldOf(item, 'status') === 'queued'
            ? judgement.mayPass && fieldOf(item, 'index') === index
              ? undefined
              : 'queued'
            : itemRefusalFault(problemOf, judgement, index, atomic);
        if (fault !== undefined) return `item ${index}: ${fault} ${JSON.stringify(item).slice(0, 200)}`;
      }
      return undefined;
    },
  };
}

function itemRefusalFault(
  problemOf: unknown,
  judgement: Judgement,
  index: number,
  atomic: boolean,
): string | undefined {
  const status = fieldOf(problemOf, 'status');
  const type = String(fieldOf(problemOf, 'type'));
  const field = fieldOf(problemOf, 'field') ?? null;
  if (
    status === 400 &&
    type === `${problemTypeBase}validation` &&
    judgement.fields.includes(field as string | null)
  )
    return undefined;
  if (
    atomic &&
    judgement.mayPass &&
    status === 422 &&
    type === `${problemTypeBase}linked_transfer_failed` &&
    field === `transfers.${index}`
  )
    return undefined;
  return `refused, expected ${JSON.stringify(judgement)}`;
}

/** The model of each route, by function name; a route the model lacks fails the test. */
export const routeModels: Readonly<Record<string, RouteModel>> = {
  'create-account': { body: accountShape, success: () => found(201) },
  'get-account': {
    parameter: accountParameter,
    success: (id, fixtures) => (isKnownAccount(id, fixtures) ? found(200) : notFound),
  },
  'list-account-entries': {
    parameter: accountParameter,
    query: entriesQuery,
    success: (id, fixtures) => (isKnownAccount(id, fixtures) ? found(200) : notFound),
  },
  'get-account-balance': {
    parameter: accountParameter,
    query: balanceQuery,
    success: (id, fixtures) => (isKnownAccount(id, fixtures) ? found(200) : notFound),
  },
  'set-account-velocity': {
    parameter: accountParameter,
    body: velocityShape,
    success: (id, fixtures) =>
      id !== undefined && fixtures.velocityAccounts.includes(id) ? found(200) : notFound,
  },
  'freeze-account': {
    parameter: accountParameter,
    success: (id, fixtures) => accountActionAnswer('freeze', id, fixtures),
  },
  'unfreeze-account': {
    parameter: accountParameter,
    success: (id, fixtures) => accountActionAnswer('unfreeze', id, fixtures),
  },
  'close-account': {
    parameter: accountParameter,
    success: (id, fixtures) => accountActionAnswer('close', id, fixtures),
  },
  'submit-transfer': {
    body: transferShape,
    idempotencyKey: true,
    success: (_id, _fixtures, body) => queued(fieldOf(body, 'pending') === true ? 'pending' : 'transfer'),
  },
  // A post, void or reversal of any transfer id is queued: the ledger decides whether the transfer
  // it names exists and allows it (and rejects it otherwise), so the answer never depends on that.
  'post-pending-transfer': {
    parameter: transferParameter,
    body: partialAmountShape,
    bodyOptional: true,
    idempotencyKey: true,
    success: (id) => queued('post_pending', { field: 'pending_id', id }),
  },
  'void-pending-transfer': {
    parameter: transferParameter,
    body: voidShape,
    bodyOptional: true,
    idempotencyKey: true,
    success: (id) => queued('void_pending', { field: 'pending_id', id }),
  },
  'reverse-transfer': {
    parameter: transferParameter,
    body: partialAmountShape,
    bodyOptional: true,
    idempotencyKey: true,
    success: (id) => queued('reversal', { field: 'reverses', id }),
  },
  'submit-transfer-batch': {
    body: batchShape,
    idempotencyKey: true,
    success: (_id, _fixtures, body) => batchAnswer(body),
  },
  'get-transfer': {
    parameter: transferParameter,
    success: (id, fixtures) =>
      id !== undefined && fixtures.transferIds.includes(id) ? found(200) : notFound,
  },
  'get-transfer-batch': {
    parameter: transferParameter,
    success: (id, fixtures) =>
      id !== undefined && fixtures.batchIds.includes(id)
        ? {
            status: 200,
            bodyFault: (body) => (fieldOf(body, 'batch_id') === id ? undefined : 'another batch_id'),
          }
        : notFound,
  },
  'list-fraud-flags': { query: pageQuery, success: () => found(200) },
  openapi: { success: () => found(200) },
  'admin-page': { success: () => found(200) },
  'admin-assets': {
    parameter: { name: 'file', valid: isAssetName },
    success: (file, fixtures) =>
      file !== undefined && fixtures.assetFiles.includes(file) ? found(200) : notFound,
  },
  'admin-activity': { query: activityQuery, success: () => found(200) },
  'admin-gauges': { success: () => found(200) },
  // The ledger's invariants hold throughout, so the check answers 200, never 500.
  'admin-invariants': { success: () => found(200) },
  'admin-transfers': { query: adminTransfersQuery, success: () => found(200) },
  // A step from an entry the sealer has not sealed is a 400 naming after_entry_id (see the query).
  'admin-ledger-verification': { query: verificationQuery, success: () => found(200) },
};

/** Every account the fixtures opened. */
export function fixtureAccounts(fixtures: FuzzFixtures): string[] {
  return [
    ...fixtures.transferAccounts,
    ...fixtures.velocityAccounts,
    ...fixtures.freezeAccounts,
    ...fixtures.closeAccounts,
    fixtures.closedAccount,
    ...fixtures.unclosableAccounts,
  ];
}

function isKnownAccount(id: string | undefined, fixtures: FuzzFixtures): boolean {
  return id !== undefined && fixtureAccounts(fixtures).includes(id);
}

// ---------------------------------------------------------------------------------------------
// The model's verdict on a whole request

/** A request as the server will see it: decoded path parameters, query, headers, body bytes. */
export interface SeenRequest {
  readonly method: string;
  readonly route: HttpFunction | 'health' | undefined;
  readonly parameter: string | undefined;
  readonly query: readonly (readonly [string, string])[];
  /** Header values by lower-case name, as the handler reads them (see `foldHeaders`). */
  readonly headers: ReadonlyMap<string, string>;
  /** Whether the front door's key check passes. */
  readonly keyAccepted: boolean;
  readonly body: Buffer | undefined;
  /** The body as a handler called directly gets it, when it is a string API Gateway decoded. */
  readonly bodyText?: string;
}

const problem = (status: number, slug: string, fields?: readonly (string | null)[]): Outcome =>
  fields === undefined ? { status, slug } : { status, slug, fields };

/**
 * Judges a request in the order the API does: route, method, key (the front door), size, JSON,
 * headers, body, path, query (the wrapper), then the handler's own answer. A part the model is
 * unsure of adds the problem it may cause and judging goes on.
 */
export function expectedAnswer(
  request: SeenRequest,
  fixtures: FuzzFixtures,
  stage: 'front-door' | 'handler' = 'front-door',
): Expected {
  const { route } = request;
  if (route === 'health') {
    return { kind: 'one-of', outcomes: [request.method === 'GET' ? found(200) : methodNotAllowed] };
  }
  if (route === undefined) return { kind: 'one-of', outcomes: [notFound] };
  if (stage === 'front-door') {
    // The route is the one that answers the method, if any route of the path does.
    if (request.method !== route.method) return { kind: 'one-of', outcomes: [methodNotAllowed] };
    if (route.apiKeyRequired && !request.keyAccepted)
      return { kind: 'one-of', outcomes: [problem(401, 'unauthorized')] };
  }
  const model = routeModels[route.name];
  if (model === undefined) throw new Error(`test: no model of route ${route.name}`);
  const bodyBytesMax = route.request.bodyBytesMax ?? requestBodyBytesMax;
  const size = request.body?.byteLength ?? Buffer.byteLength(request.bodyText ?? '', 'utf8');
  if (size > bodyBytesMax) return { kind: 'one-of', outcomes: [problem(413, 'payload-too-large')] };

  let parsed: unknown;
  if (model.body !== undefined) {
    const read =
      request.bodyText === undefined
        ? readBody(request.body ?? Buffer.alloc(0), bodyBytesMax, model.bodyOptional === true)
        : readText(request.bodyText, model.bodyOptional === true);
    if (read.kind !== 'json') return { kind: 'one-of', outcomes: [problem(400, 'malformed-json')] };
    parsed = read.value;
  }
  if (model.idempotencyKey === true) {
    const key = request.headers.get('idempotency-key');
    if (key === undefined || !isIdempotencyKey(key)) {
      return { kind: 'one-of', outcomes: [problem(400, 'validation', ['Idempotency-Key'])] };
    }
  }
  const outcomes: Outcome[] = [];
  const judgements: Judgement[] = [];
  if (model.body !== undefined) judgements.push(judgeObject(parsed, model.body));
  if (model.parameter !== undefined) {
    const valid = request.parameter !== undefined && model.parameter.valid(request.parameter);
    judgements.push(
      valid ? { fields: [], mayPass: true } : { fields: [model.parameter.name], mayPass: false },
    );
  }
  if (model.query !== undefined) judgements.push(judgeQuery(request.query, model.query));
  for (const judgement of judgements) {
    if (judgement.fields.length > 0) outcomes.push(problem(400, 'validation', judgement.fields));
    if (!judgement.mayPass) return { kind: 'one-of', outcomes };
  }
  outcomes.push(model.success(request.parameter, fixtures, parsed));
  return { kind: 'one-of', outcomes };
}

const methodNotAllowed: Outcome = { status: 405, slug: 'method-not-allowed' };

/** A string body handed to a handler directly: no UTF-8 step, the rest as `readBody`. */
function readText(body: string, optional: boolean): { kind: 'malformed' } | { kind: 'json'; value: unknown } {
  if (body.trim() === '') return optional ? { kind: 'json', value: {} } : { kind: 'malformed' };
  try {
    return { kind: 'json', value: JSON.parse(body) };
  } catch {
    return { kind: 'malformed' };
  }
}

/**
 * Header values by lower-case name as the handler reads them: the front door keeps the last
 * value of each name as sent, and the wrapper folds names to lower case in the order they first
 * appeared, the later spelling winning.
 */
export function foldHeaders(
  headers: readonly (readonly [string, string])[],
  trim: (value: string) => string = trimWhitespace,
): Map<string, string> {
  const bySpelling = new Map<string, string>();
  for (const [name, value] of headers) bySpelling.set(name, trim(value));
  const folded = new Map<string, string>();
  for (const [name, value] of bySpelling) folded.set(name.toLowerCase(), value);
  return folded;
}

/** What the HTTP parser does to a header value: spaces and tabs around it go. */
function trimWhitespace(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** Whether the front door takes the key: one x-api-key header, equal to the key once trimmed. */
function keyAccepted(headers: readonly (readonly [string, string])[], apiKey: string): boolean {
  const keys = headers.filter(([name]) => name.toLowerCase() === 'x-api-key');
  return keys.length === 1 && trimWhitespace(keys[0]?.[1] ?? '') === apiKey;
}

// ---------------------------------------------------------------------------------------------
// Paths

/** Percent-encodes UTF-8 (a lone surrogate becomes U+FFFD, as any client's encoder makes it). */
function percentEncode(value: string): string {
  let encoded = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const character = String.fromCharCode(byte);
    encoded += /[A-Za-z0-9\-_.~]/.test(character)
      ? character
      : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/** What the server decodes a percent-encoded value back to. */
function decoded(value: string): string {
  return Buffer.from(value, 'utf8').toString('utf8');
}

/**
 * The route a path reaches, and its parameter, as the front door matches templates: of the
 * routes whose template matches, the first (in the functions' order) that answers the method,
 * else the first (which then answers 405). Two templates can match one path
 * (`/v1/transfers/batch` and `/v1/transfers/{id}`), each for its own method.
 */
export function matchRoute(
  segments: readonly string[],
  routes: readonly HttpFunction[],
  method: string,
): { route: HttpFunction | 'health' | undefined; parameter: string | undefined } {
  if (segments.length === 1 && segments[0] === 'health') return { route: 'health', parameter: undefined };
  const matched: { route: HttpFunction; parameter: string | undefined }[] = [];
  for (const route of routes) {
    const template = route.path.split('/').slice(1);
    if (template.length !== segments.length) continue;
    let parameter: string | undefined;
    const matches = template.every((part, index) => {
      const segment = segments[index] ?? '';
      if (!part.startsWith('{')) return part === segment;
      parameter = segment;
      return segment !== '';
    });
    if (matches) matched.push({ route, parameter });
  }
  return (
    matched.find((candidate) => candidate.route.method === method) ??
    matched[0] ?? { route: undefined, parameter: undefined }
  );
}

// ---------------------------------------------------------------------------------------------
// Generators

/** A request on the wire. */
export interface WireRequest {
  readonly label: string;
  readonly method: string;
  /** The request target: path and query, already encoded. */
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer | undefined;
  readonly chunked: boolean;
  readonly expected: Expected;
  /** The route name, for coverage counts and effects. */
  readonly routeName: string | undefined;
  /** The Idempotency-Key the handler reads, for effects. */
  readonly idempotencyKey: string | undefined;
}

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
});

const headerSafe = fc.string({
  unit: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)) },
  ),
  maxLength: 60,
});

/**
 * Idempotency-Key values: unique valid ones (mostly) and every shape that must be refused; with
 * `unsendable`, also characters an HTTP client will not put in a header (for direct calls).
 */
function idempotencyKeyHeaders(
  unique: fc.Arbitrary<string>,
  unsendable = false,
): fc.Arbitrary<[string, string][]> {
  const valid = fc
    .tuple(
      printable.filter((prefix) => prefix.trim() === prefix),
      unique,
    )
    .map(([prefix, id]) => `${prefix}${id}`.slice(-255));
  return fc.oneof(
    { weight: 12, arbitrary: valid.map((key): [string, string][] => [['Idempotency-Key', key]]) },
    { weight: 1, arbitrary: unique.map((id): [string, string][] => [['idempotency-key', `  ${id}  `]]) },
    {
      weight: 1,
      arbitrary: unique.map((id): [string, string][] => [
        ['IDEMPOTENCY-KEY', `${'k'.repeat(255 - id.length)}${id}`],
      ]),
    },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constant(''),
          fc.constant('   '),
          fc.integer({ min: 256, max: 4_000 }).map((length) => 'k'.repeat(length)),
          headerSafe.filter((value) => /[\x80-\xff]/.test(value)),
          unique.map((id) => `é${id}`),
          unsendable
            ? fc
                .tuple(unique, fc.constantFrom('\x7f', '\t', '\u0000', '\n', '\ud800'))
                .map(([id, bad]) => `${id}${bad}`)
            : unique,
        )
        .map((key): [string, string][] => [['Idempotency-Key', key]]),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.oneof(valid, fc.constant('')))
        .map(([first, second]): [string, string][] => [
          ['Idempotency-Key', first],
          ['idempotency-key', second],
        ]),
    },
  );
}

function apiKeyHeaders(apiKey: string): fc.Arbitrary<[string, string][]> {
  return fc.oneof(
    { weight: 60, arbitrary: fc.constant<[string, string][]>([['x-api-key', apiKey]]) },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([['X-API-Key', ` ${apiKey} `]]) },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([['x-api-key', '']]) },
    { weight: 1, arbitrary: headerSafe.map((key): [string, string][] => [['x-api-key', key]]) },
    { weight: 1, arbitrary: fc.constant<[string, string][]>([['x-api-key', `${apiKey}x`]]) },
    {
      weight: 1,
      arbitrary: fc.constant<[string, string][]>([
        ['x-api-key', apiKey],
        ['X-Api-Key', apiKey],
      ]),
    },
  );
}

const contentTypeHeaders: fc.Arbitrary<[string, string][]> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<[string, string][]>([['content-type', 'application/json']]) },
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(
        'text/plain',
        'application/json; charset=utf-16',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        '',
        '*/*',
      )
      .map((type): [string, string][] => [['Content-Type', type]]),
  },
  { weight: 1, arbitrary: headerSafe.map((type): [string, string][] => [['content-type', type]]) },
  { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
);

const reservedHeaderNames = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'expect',
  'upgrade',
  'x-api-key',
  'idempotency-key',
  'content-type',
  'te',
  'trailer',
  'keep-alive',
  'proxy-connection',
]);
const otherHeaders = fc.array(
  fc.tuple(
    fc
      .stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}$/)
      .filter((name) => !reservedHeaderNames.has(name.toLowerCase())),
    headerSafe,
  ),
  { maxLength: 3 },
);

/** A value for a path parameter, its route's valid kinds and garbage. */
function parameterValues(route: HttpFunction, fixtures: FuzzFixtures): fc.Arbitrary<string> {
  const garbage = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.constantFrom(
      '%',
      '%zz',
      '\u0000',
      'null',
      'undefined',
      '-1',
      '0',
      '__proto__',
      'constructor',
      'é',
      '😀',
    ),
    fc.uuid().map((id) => id.toUpperCase()),
    fc.constant('00000000-0000-0000-0000-000000000000'),
    fc.integer({ min: 200, max: 4_000 }).map((length) => 'a'.repeat(length)),
    fc.uuid().map((id) => `${id} `),
  );
  if (route.name === 'admin-assets') {
    return fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...fixtures.assetFiles) },
      { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,40}$/) },
      { weight: 3, arbitrary: garbage },
      { weight: 1, arbitrary: fc.constantFrom('../index.html', '.env', '..%2Findex.html', 'index.html') },
    );
  }
  const knownByRoute: Readonly<Record<string, readonly string[]>> = {
    'get-transfer': fixtures.transferIds,
    'post-pending-transfer': fixtures.transferIds,
    'void-pending-transfer': fixtures.transferIds,
    'reverse-transfer': fixtures.transferIds,
    'get-transfer-batch': fixtures.batchIds,
    'set-account-velocity': fixtures.velocityAccounts,
    'freeze-account': [...fixtures.freezeAccounts, fixtures.closedAccount],
    'unfreeze-account': [...fixtures.freezeAccounts, fixtures.closedAccount],
    'close-account': [...fixtures.closeAccounts, fixtures.closedAccount, ...fixtures.unclosableAccounts],
  };
  const known = knownByRoute[route.name] ?? fixtures.transferAccounts;
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 3, arbitrary: fc.uuid() },
    { weight: 4, arbitrary: garbage },
  );
}

/** An RFC 3339 instant, from year 0001 to 9999, in UTC with milliseconds. */
const validInstant = fc
  .date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
  .map((date) => date.toISOString());

function queryValues(shape: QueryShape | undefined): fc.Arbitrary<[string, string][]> {
  const names = [...(shape ?? []).map((parameter) => parameter.name), 'unknown', '', 'limit[]'];
  const value = fc.oneof(
    fc.integer({ min: 1, max: 200 }).map(String),
    fc.constantFrom(
      '0',
      '201',
      '-1',
      '1.5',
      '1e2',
      '',
      ' 1',
      '0x10',
      '10000',
      'posted',
      'rejected',
      'queued',
    ),
    fc.bigInt({ min: 1n, max: 2n ** 63n - 1n }).map(entryCursor),
    fc.bigInt({ min: 2n ** 63n, max: 2n ** 70n }).map(entryCursor),
    fc.uuid(),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.integer({ min: 70, max: 3_000 }).map((length) => 'A'.repeat(length)),
    // Instants, valid and nearly so, and entry ids around the bounds.
    validInstant,
    fc.constantFrom(
      '2024-02-29T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '0001-01-01T00:00:00+23:59',
      '9999-12-31T23:59:59.999999999-23:59',
      '2026-01-31T12:00:00',
      '2026-01-31T12:00Z',
      '2026-01-31 12:00:00Z',
      '2026-01-31t12:00:00z',
      '2026-01-31T24:00:00Z',
      '2026-01-31T12:00:00+24:00',
      '+002026-01-31T12:00:00Z',
      '9223372036854775807',
      '9223372036854775808',
      '18446744073709551615',
      '100000',
      '100001',
    ),
  );
  return fc.array(fc.tuple(fc.constantFrom(...names), value), { maxLength: 4 });
}

const validAmount = fc.bigInt({ min: 1n, max: 1_000_000n }).map((value) => JSON.stringify(value.toString()));

const validVelocity: Readonly<Record<string, fc.Arbitrary<Fragment>>> = {
  window_s: fc.oneof(fc.integer({ min: 1, max: 86_400 }).map(String), fc.constant('null')),
  max_transfers: fc.oneof(fc.integer({ min: 1, max: 1_000 }).map(String), fc.constant('null')),
  max_amount: fc.oneof(validAmount, fc.constant('null')),
};

const validAccount: Readonly<Record<string, fc.Arbitrary<Fragment>>> = {
  currency: fc.constantFrom('"USD"', '"EUR"', '"JPY"', '"BHD"'),
  flags: fc.constantFrom(
    '{}',
    '{"debits_must_not_exceed_credits":true}',
    '{"credits_must_not_exceed_debits":true,"debits_must_not_exceed_credits":false}',
  ),
  code: fc.integer({ min: 0, max: 65_535 }).map(String),
  metadata: fc.oneof(validMetadata, fc.constant(deepestMetadata)),
  velocity: fc
    .record(validVelocity, { requiredKeys: [] })
    .map((fields) => objectText(Object.entries(fields) as [string, Fragment][])),
};

/**
 * A valid transfer between two different accounts: the fixtures' (it posts) or unknown ones (it
 * is accepted, then rejected by the ledger), with metadata or without.
 */
function validTransfer(
  fixtures: FuzzFixtures,
  unique: fc.Arbitrary<string>,
): fc.Arbitrary<[string, Fragment][]> {
  const account = fc.oneof(fc.constantFrom(...fixtures.transferAccounts), fc.uuid());
  return fc
    .record({
      pair: fc.tuple(account, account).filter(([debit, credit]) => debit !== credit),
      amount: validAmount,
      metadata: fc.option(
        fc.oneof(
          validMetadata,
          unique.map((id) => JSON.stringify({ fuzz: id })),
        ),
        {
          nil: undefined,
        },
      ),
      // A hold now and then (its timeout from the shortest to the longest), or `pending: false`.
      pending: fc.oneof(
        { weight: 6, arbitrary: fc.constant<[string, Fragment][]>([]) },
        { weight: 1, arbitrary: fc.constant<[string, Fragment][]>([['pending', 'false']]) },
        { weight: 2, arbitrary: fc.constant<[string, Fragment][]>([['pending', 'true']]) },
        {
          weight: 2,
          arbitrary: fc
            .oneof(
              fc.constantFrom(pendingTimeoutSMin, pendingTimeoutSMax),
              fc.integer({ min: 60, max: 86_400 }),
            )
            .map((timeout): [string, Fragment][] => [
              ['pending', 'true'],
              ['timeout_s', String(timeout)],
            ]),
        },
      ),
    })
    .map(({ pair, amount, metadata, pending }): [string, Fragment][] => [
      ['debit_account_id', JSON.stringify(pair[0])],
      ['credit_account_id', JSON.stringify(pair[1])],
      ['amount', amount],
      ['currency', '"USD"'],
      ...(metadata === undefined ? [] : ([['metadata', metadata]] as [string, Fragment][])),
      ...pending,
    ]);
}

/** A plain transfer (a batch takes no hold): `validTransfer` without `pending` and `timeout_s`. */
function plainTransfer(
  fixtures: FuzzFixtures,
  unique: fc.Arbitrary<string>,
): fc.Arbitrary<[string, Fragment][]> {
  return validTransfer(fixtures, unique).map((entries) =>
    entries.filter(([name]) => name !== 'pending' && name !== 'timeout_s'),
  );
}

/**
 * A batch the API takes whole (202): a few items, most valid, some broken or garbage, each
 * answered in its place; atomic or not; and at the bounds, items that are all refused (so that
 * a thousand of them queue nothing and fill no velocity window).
 */
function validBatch(
  fixtures: FuzzFixtures,
  unique: fc.Arbitrary<string>,
): fc.Arbitrary<[string, Fragment][]> {
  const broken = fc
    .tuple(
      plainTransfer(fixtures, unique),
      fc.constantFrom(...transferShape.fields.map((field) => field.name)),
      fc.constantFrom('replace', 'replace', 'omit', 'unknown-key', 'duplicate-bad-last'),
      fc.oneof({ weight: 4, arbitrary: garbageFragment }, { weight: 1, arbitrary: invalidMetadata }),
    )
    .map(([entries, field, operation, value]) =>
      objectText(breakField(entries, field, operation, value, 'extra')),
    );
  const item = fc.oneof(
    { weight: 6, arbitrary: plainTransfer(fixtures, unique).map(objectText) },
    { weight: 2, arbitrary: broken },
    {
      weight: 1,
      arbitrary: validTransfer(fixtures, unique).map((entries) =>
        objectText([...entries.filter(([name]) => name !== 'pending'), ['pending', 'true']]),
      ),
    },
    { weight: 1, arbitrary: garbageFragment },
  );
  const atomic = fc.constantFrom<[string, Fragment][]>([], [['atomic', 'false']], [['atomic', 'true']]);
  const refusedItems = (count: number): Fragment =>
    `[${Array.from({ length: count }, () => '{}').join(',')}]`;
  return fc.oneof(
    {
      weight: 30,
      arbitrary: fc
        .tuple(fc.array(item, { minLength: 1, maxLength: 4 }), atomic)
        .map(([items, flag]): [string, Fragment][] => [['transfers', `[${items.join(',')}]`], ...flag]),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom([batchItemCountMax, false], [atomicSetLegCountMax, true], [1, true])
        .map(([count, flag]): [string, Fragment][] => [
          ['transfers', refusedItems(count as number)],
          ['atomic', String(flag)],
        ]),
    },
  );
}

/** Bodies one item or one flag past a batch's bounds: the batch is refused whole, naming `transfers`. */
const batchesPastBounds: fc.Arbitrary<Buffer> = fc
  .constantFrom(
    `{"transfers":[${Array.from({ length: batchItemCountMax + 1 }, () => '{}').join(',')}]}`,
    `{"transfers":[${Array.from({ length: atomicSetLegCountMax + 1 }, () => '{}').join(',')}],"atomic":true}`,
    '{"transfers":[]}',
    '{"transfers":[],"atomic":true}',
  )
  .map((body) => Buffer.from(body, 'utf8'));

/** The routes that queue commands: a valid request costs several AWS calls and a posting. */
const submissions = new Set([
  'submit-transfer',
  'post-pending-transfer',
  'void-pending-transfer',
  'reverse-transfer',
  'submit-transfer-batch',
]);

/** A body for a route that takes one: valid, one field broken, or garbage. */
function bodies(
  route: HttpFunction,
  fixtures: FuzzFixtures,
  unique: fc.Arbitrary<string>,
): fc.Arbitrary<Buffer> {
  const shape = routeModels[route.name]?.body;
  if (shape === undefined) throw new Error(`test: ${route.name} takes no body`);
  const validRecords: Readonly<Record<string, Readonly<Record<string, fc.Arbitrary<Fragment>>>>> = {
    'create-account': validAccount,
    'set-account-velocity': validVelocity,
    'post-pending-transfer': { amount: validAmount, metadata: validMetadata },
    'reverse-transfer': { amount: validAmount, metadata: validMetadata },
    'void-pending-transfer': { metadata: validMetadata },
  };
  const validEntries: fc.Arbitrary<[string, Fragment][]> =
    route.name === 'submit-transfer'
      ? validTransfer(fixtures, unique)
      : route.name === 'submit-transfer-batch'
        ? validBatch(fixtures, unique)
        : fc
            .record(validRecords[route.name] ?? {}, {
              requiredKeys: route.name === 'create-account' ? ['currency'] : [],
            })
            .map((record) => Object.entries(record) as [string, Fragment][]);
  const names = shape.fields.map((field) => field.name);
  const nestedNames = ['flags.debits_must_not_exceed_credits', 'velocity.window_s', 'velocity.max_amount'];
  const broken = fc
    .tuple(
      validEntries,
      fc.constantFrom(...names, ...(route.name === 'create-account' ? nestedNames : [])),
      fc.constantFrom(
        'replace',
        'replace',
        'replace',
        'omit',
        'unknown-key',
        'duplicate-bad-last',
        'duplicate-bad-first',
      ),
      fc.oneof({ weight: 4, arbitrary: garbageFragment }, { weight: 1, arbitrary: invalidMetadata }),
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 20 }),
        fc.constantFrom(
          '__proto__',
          'constructor',
          'prototype',
          'Currency',
          'amount ',
          '',
          '\u0000',
          '\ud800',
        ),
      ),
    )
    .map(([entries, field, operation, value, unknownKey]) =>
      objectText(breakField(entries, field, operation, value, unknownKey)),
    );
  const validText = validEntries.map(objectText);
  // Valid submissions are few: each costs four AWS calls and a posting, and teaches little more.
  // A batch's "valid" bodies hold broken items too, each answered in its place.
  // Bodies at the size bound are fewer still (about 1 in 150, some thirty in a run, which covers
  // their ten kinds per route): each is 256 KiB that the client, the front door, the handler and
  // the model all read, and at 1 in 40 they were half of the bytes sent.
  return fc.oneof(
    {
      weight: submissions.has(route.name) ? 8 : 24,
      arbitrary: validText.map((body) => Buffer.from(body, 'utf8')),
    },
    { weight: 96, arbitrary: broken.map((body) => Buffer.from(body, 'utf8')) },
    { weight: 48, arbitrary: garbageBodies(validText) },
    { weight: 1, arbitrary: sizedBodies(validText, route.request.bodyBytesMax ?? requestBodyBytesMax) },
    ...(route.name === 'submit-transfer-batch' ? [{ weight: 2, arbitrary: batchesPastBounds }] : []),
  );
}

/** Breaks one field of a valid body (a nested one is named `outer.inner`). */
function breakField(
  entries: readonly [string, Fragment][],
  field: string,
  operation: string,
  value: Fragment,
  unknownKey: string,
): [string, Fragment][] {
  const [outer = '', inner] = field.split('.');
  if (inner !== undefined) {
    const nestedEntries: [string, Fragment][] =
      operation === 'unknown-key' ? [[unknownKey, '1']] : [[inner, value]];
    return [...entries.filter(([name]) => name !== outer), [outer, objectText(nestedEntries)]];
  }
  const others = entries.filter(([name]) => name !== outer);
  const current = entries.find(([name]) => name === outer)?.[1] ?? '"placeholder"';
  switch (operation) {
    case 'omit':
      return others;
    case 'unknown-key':
      return [...entries, [unknownKey, value]];
    case 'duplicate-bad-last':
      return [...others, [outer, current], [outer, value]];
    case 'duplicate-bad-first':
      return [...others, [outer, value], [outer, current]];
    default:
      return [...others, [outer, value]];
  }
}

/** Bodies that are not JSON objects, or not JSON, or not UTF-8. */
function garbageBodies(validText: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  const utf8 = (body: string): Buffer => Buffer.from(body, 'utf8');
  return fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
    fc
      .constantFrom(
        '',
        ' ',
        '\n\t',
        'null',
        'true',
        '0',
        '"text"',
        '[]',
        '[{}]',
        '{',
        '}',
        '{"a":}',
        "{'a':1}",
        'NaN',
      )
      .map(utf8),
    garbageFragment.map(utf8),
    fc
      .oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(10_000, 100_000))
      .map((depth) => utf8(nested(depth, 'array'))),
    fc
      .oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(1_000, 20_000))
      .map((depth) => utf8(nested(depth, 'object'))),
    // A byte-order mark, UTF-16, invalid UTF-8 inside a string value, and cut-off text.
    validText.map((body) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8(body)])),
    validText.map((body) => Buffer.from(`\ufeff${body}`, 'utf16le')),
    fc
      .tuple(
        validText,
        fc.constantFrom(
          [0xff],
          [0xc0, 0xaf],
          [0xed, 0xa0, 0x80],
          [0xe2, 0x82],
          [0x80],
          [0xf8, 0x88, 0x80, 0x80, 0x80],
        ),
      )
      .map(([body, bytes]) => {
        const quote = body.lastIndexOf('"');
        return Buffer.concat([utf8(body.slice(0, quote)), Buffer.from(bytes), utf8(body.slice(quote))]);
      }),
    fc.tuple(validText, fc.nat()).map(([body, cut]) => utf8(body.slice(0, cut % Math.max(1, body.length)))),
  );
}

/**
 * Bodies at and around the route's size bound: the bytes are a valid body plus a padding field
 * (an empty valid body gets the padding alone).
 */
function sizedBodies(validText: fc.Arbitrary<string>, bodyBytesMax: number): fc.Arbitrary<Buffer> {
  return fc
    .tuple(validText, fc.constantFrom(-1, 0, 1, 2, 1_000), fc.constantFrom('pad', 'metadata'))
    .map(([body, overBy, field]) => {
      const target = bodyBytesMax + overBy;
      const prefix = `{"${field}":"`;
      const suffix = body === '{}' ? '"}' : `",${body.slice(1)}`;
      const padding = Math.max(0, target - Buffer.byteLength(prefix + suffix));
      return Buffer.from(`${prefix}${'x'.repeat(padding)}${suffix}`, 'utf8');
    });
}

/** Every request of one route: its method or another, a path with parameters, query, headers, body. */
function routeRequests(
  route: HttpFunction,
  routes: readonly HttpFunction[],
  fixtures: FuzzFixtures,
): fc.Arbitrary<WireRequest> {
  const model = routeModels[route.name];
  if (model === undefined) throw new Error(`test: no model of route ${route.name}`);
  const unique = fc.uuid().map((id) => `fuzz-${id}`);
  // A body at the size bound on a route that reads none: a few in a run (see `bodies`).
  const noBody = fc.oneof(
    { weight: 360, arbitrary: fc.constant<Buffer | undefined>(undefined) },
    {
      weight: 24,
      arbitrary: fc.uint8Array({ maxLength: 100 }).map((bytes): Buffer | undefined => Buffer.from(bytes)),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(requestBodyBytesMax, requestBodyBytesMax + 1)
        .map((size): Buffer | undefined => Buffer.alloc(size, 0x20)),
    },
  );
  return fc
    .record({
      method: fc.oneof(
        { weight: 15, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') },
      ),
      parameter: model.parameter === undefined ? fc.constant(undefined) : parameterValues(route, fixtures),
      query: fc.oneof(
        { weight: 2, arbitrary: fc.constant<[string, string][]>([]) },
        { weight: 3, arbitrary: queryValues(model.query) },
        // A valid instant, which the balance route requires and random values seldom are.
        ...(model.query?.some((parameter) => parameter.name === 'as_of') === true
          ? [
              {
                weight: 3,
                arbitrary: validInstant.map((instant): [string, string][] => [['as_of', instant]]),
              },
            ]
          : []),
      ),
      apiKey: apiKeyHeaders(fixtures.apiKey),
      idempotencyKey:
        model.idempotencyKey === true ? idempotencyKeyHeaders(unique) : fc.constant<[string, string][]>([]),
      contentType: contentTypeHeaders,
      others: otherHeaders,
      body: model.body === undefined ? noBody : bodies(route, fixtures, unique),
      chunked: fc.boolean(),
    })
    .map((parts) => {
      const segments = route.path
        .split('/')
        .slice(1)
        .map((segment) => (segment.startsWith('{') ? percentEncode(parts.parameter ?? '') : segment));
      const queryText =
        parts.query.length === 0
          ? ''
          : `?${parts.query.map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`).join('&')}`;
      const headers = [...parts.apiKey, ...parts.idempotencyKey, ...parts.contentType, ...parts.others];
      const seenParameter = parts.parameter === undefined ? undefined : decoded(parts.parameter);
      const seenSegments = route.path
        .split('/')
        .slice(1)
        .map((segment) => (segment.startsWith('{') ? (seenParameter ?? '') : segment));
      const routed = matchRoute(seenSegments, routes, parts.method);
      const folded = foldHeaders(headers);
      // A path parameter of "." or ".." is a dot segment the URL parser resolves: no model.
      const dotSegment = seenParameter === '.' || seenParameter === '..';
      const { body } = parts;
      const expected: Expected = dotSegment
        ? { kind: 'any-4xx' }
        : expectedAnswer(
            {
              method: parts.method,
              route: routed.route,
              parameter: routed.parameter,
              query: parts.query.map(([name, value]) => [decoded(name), decoded(value)] as const),
              headers: folded,
              keyAccepted: keyAccepted(headers, fixtures.apiKey),
              body,
            },
            fixtures,
          );
      return {
        label: route.name,
        method: parts.method,
        target: `/${segments.join('/')}${queryText}`,
        headers,
        body,
        chunked: parts.chunked,
        expected,
        routeName: typeof routed.route === 'object' ? routed.route.name : undefined,
        idempotencyKey: folded.get('idempotency-key'),
      };
    });
}

/** Paths no route has, and routes' paths with a segment too many or too few. */
function strayRequests(routes: readonly HttpFunction[], fixtures: FuzzFixtures): fc.Arbitrary<WireRequest> {
  const segment = fc.oneof(
    fc.constantFrom(
      'v1',
      'v2',
      'accounts',
      'transfers',
      'admin',
      'system',
      'assets',
      'health',
      'entries',
      'velocity',
      '',
    ),
    fc.string({ unit: 'binary', maxLength: 12 }).filter((value) => value !== '.' && value !== '..'),
  );
  return fc
    .tuple(fc.array(segment, { minLength: 0, maxLength: 6 }), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'))
    .map(([segments, method]) => {
      const seen = segments.map(decoded);
      const routed = matchRoute(seen, routes, method);
      const headers: [string, string][] = [['x-api-key', fixtures.apiKey]];
      // A target starting with "//" names a host, not a path: no model.
      const hostLike = segments.length > 1 && segments[0] === '';
      const expected: Expected = hostLike
        ? { kind: 'any-4xx' }
        : expectedAnswer(
            {
              method,
              route: routed.route,
              parameter: routed.parameter,
              query: [],
              headers: foldHeaders(headers),
              keyAccepted: true,
              body: undefined,
            },
            fixtures,
          );
      return {
        label: 'stray path',
        method,
        target: `/${segments.map(percentEncode).join('/')}`,
        headers,
        body: undefined,
        chunked: false,
        expected,
        routeName: typeof routed.route === 'object' ? routed.route.name : undefined,
        idempotencyKey: undefined,
      };
    });
}

/** Request targets no client library would send: for these any 4xx problem is right. */
function rawTargets(fixtures: FuzzFixtures): fc.Arbitrary<WireRequest> {
  const target = fc.oneof(
    fc.constantFrom(
      '//[',
      '//',
      '///v1/accounts',
      '//evil.example/v1/accounts',
      '/%',
      '/%zz',
      '/v1/accounts/%',
      '/v1/accounts/%E0%A4%A',
      '/v1/accounts/%C0%AF',
      '/v1/accounts/%00',
      '/v1/accounts/..',
      '/v1/accounts/%2e%2e',
      '/v1/accounts/./x',
      '/v1\\accounts',
      '*',
      'http://h/v1/accounts',
      'http://[::1/v1/accounts',
      '/v1/accounts?limit=%',
      '/v1/accounts/é',
      '/v1/fraud/flags?limit=%FF',
      '/v1/fraud/flags?cursor=%F0%9F',
    ),
    fc.stringMatching(/^\/[\x21-\x7e]{0,40}$/),
    fc
      .string({
        unit: fc.integer({ min: 0x21, max: 0xff }).map((code) => String.fromCharCode(code)),
        maxLength: 40,
      })
      .map((path) => `/${path}`),
  );
  return fc.tuple(target, fc.constantFrom('GET', 'POST')).map(([path, method]) => ({
    label: 'raw target',
    method,
    target: path,
    headers: [['x-api-key', fixtures.apiKey]] as const,
    body: method === 'POST' ? Buffer.from('{}') : undefined,
    chunked: false,
    expected: { kind: 'any-4xx' } as const,
    routeName: undefined,
    idempotencyKey: undefined,
  }));
}

/**
 * Every request the HTTP fuzzer sends: each route in proportion (submissions and the body routes
 * more, since their input is richest), stray paths and raw targets.
 */
export function wireRequests(
  routes: readonly HttpFunction[],
  fixtures: FuzzFixtures,
): fc.Arbitrary<WireRequest> {
  // The routes that read a body have the richest input (the post, void and reversal bodies are
  // small, so those three get half as much); the gauges read the queues (slow on moto) and the
  // invariant check reads the whole ledger.
  const weightOf = (route: HttpFunction): number =>
    route.name === 'post-pending-transfer' ||
    route.name === 'void-pending-transfer' ||
    route.name === 'reverse-transfer'
      ? 4
      : routeModels[route.name]?.body !== undefined
        ? 8
        : route.name === 'admin-gauges' || route.name === 'admin-invariants'
          ? 1
          : 2;
  return fc.oneof(
    ...routes.map((route) => ({
      weight: weightOf(route),
      arbitrary: routeRequests(route, routes, fixtures),
    })),
    { weight: 2, arbitrary: strayRequests(routes, fixtures) },
    { weight: 1, arbitrary: rawTargets(fixtures) },
  );
}

/** A call of a handler as Lambda makes it, with the answer the model expects. */
export interface DirectCall {
  readonly route: HttpFunction;
  readonly event: APIGatewayProxyEvent;
  readonly expected: Expected;
  readonly idempotencyKey: string | undefined;
}

/**
 * Calls API Gateway can make and a client cannot send through the front door: bodies marked
 * base64 (binary media types), strings with lone surrogates, headers and parameters no HTTP
 * parser would pass (NUL, tabs, untrimmed), a missing header map.
 */
export function directCalls(
  routes: readonly HttpFunction[],
  fixtures: FuzzFixtures,
  apiKeyId: string,
): fc.Arbitrary<DirectCall> {
  return fc.oneof(
    ...routes.map((route) => {
      const model = routeModels[route.name];
      if (model === undefined) throw new Error(`test: no model of route ${route.name}`);
      const unique = fc.uuid().map((id) => `fuzz-${id}`);
      const anyText = fc.string({ unit: 'binary', maxLength: 40 });
      const body: fc.Arbitrary<{ body: string | null; isBase64Encoded: boolean }> =
        model.body === undefined
          ? fc.constant({ body: null, isBase64Encoded: false })
          : fc.oneof(
              bodies(route, fixtures, unique).map((bytes) => ({
                body: bytes.toString('base64'),
                isBase64Encoded: true,
              })),
              bodies(route, fixtures, unique).map((bytes) => ({
                body: bytes.toString('utf8'),
                isBase64Encoded: false,
              })),
              fc
                .tuple(
                  bodies(route, fixtures, unique),
                  fc.constantFrom('\ud800', '\udfff', '\u0000', '\ufeff'),
                )
                .map(([bytes, character]) => {
                  const text = bytes.toString('utf8');
                  const quote = text.lastIndexOf('"');
                  return {
                    body: `${text.slice(0, quote)}${character}${text.slice(quote)}`,
                    isBase64Encoded: false,
                  };
                }),
              fc.string({ maxLength: 80 }).map((text) => ({ body: text, isBase64Encoded: true })),
              fc.constant({ body: null, isBase64Encoded: false }),
            );
      const headers = fc.oneof(
        { weight: 1, arbitrary: fc.constant(null) },
        {
          weight: 6,
          arbitrary: fc
            .tuple(
              model.idempotencyKey === true
                ? fc.oneof(
                    { weight: 4, arbitrary: idempotencyKeyHeaders(unique, true) },
                    {
                      weight: 1,
                      arbitrary: anyText.map((key): [string, string][] => [['Idempotency-Key', key]]),
                    },
                  )
                : fc.constant<[string, string][]>([]),
              fc.array(fc.tuple(anyText, anyText), { maxLength: 2 }),
            )
            .map(([keys, others]) => [...others, ...keys]),
        },
      );
      return fc
        .record({
          parameter:
            model.parameter === undefined
              ? fc.constant(undefined)
              : fc.option(fc.oneof(parameterValues(route, fixtures), anyText), { nil: undefined }),
          query: fc.array(
            fc.tuple(
              fc.oneof(
                fc.constantFrom(...(model.query ?? []).map((parameter) => parameter.name), 'x'),
                anyText,
              ),
              anyText,
            ),
            { maxLength: 3 },
          ),
          headers,
          body,
        })
        .map(
          ({ parameter, query, headers: headerList, body: { body: text, isBase64Encoded } }): DirectCall => {
            // The event's headers are a map: a name given twice keeps its last value.
            const headerMap = headerList === null ? null : Object.fromEntries(headerList);
            const folded = foldHeaders(Object.entries(headerMap ?? {}), (value) => value);
            const queryMap = new Map(query);
            return {
              route,
              event: directEvent(route, {
                parameter,
                query: [...queryMap],
                headers: headerMap,
                body: text,
                isBase64Encoded,
                apiKeyId,
              }),
              expected: expectedAnswer(
                {
                  method: route.method,
                  route,
                  parameter,
                  query: [...queryMap],
                  headers: folded,
                  keyAccepted: true,
                  body: text === null ? undefined : isBase64Encoded ? Buffer.from(text, 'base64') : undefined,
                  ...(text !== null && !isBase64Encoded ? { bodyText: text } : {}),
                },
                fixtures,
                'handler',
              ),
              idempotencyKey: folded.get('idempotency-key'),
            };
          },
        );
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Sending and checking

/** An answer as the client got it. */
export interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** Sends one request through a keep-alive agent, headers exactly as given. */
export function send(agent: http.Agent, url: URL, request: WireRequest): Promise<Answer> {
  const headers: string[] = ['Host', url.host];
  for (const [name, value] of request.headers) headers.push(name, value);
  if (request.body !== undefined) {
    if (request.chunked) headers.push('Transfer-Encoding', 'chunked');
    else headers.push('Content-Length', String(request.body.byteLength));
  }
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      { agent, host: url.hostname, port: url.port, method: request.method, path: request.target, headers },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            contentType: String(incoming.headers['content-type'] ?? ''),
            headers: incoming.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    if (request.body !== undefined && request.chunked) {
      const half = Math.floor(request.body.byteLength / 2);
      outgoing.write(request.body.subarray(0, half));
      outgoing.end(request.body.subarray(half));
    } else {
      outgoing.end(request.body);
    }
  });
}

/** Sends raw bytes on a fresh connection and reads the first response (the head and its body). */
export function sendRaw(url: URL, bytes: Buffer, timeoutMs: number): Promise<Answer | 'closed'> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      const received = Buffer.concat(chunks);
      resolve(received.byteLength === 0 ? 'closed' : parseRawResponse(received));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const parsed = tryParseComplete(Buffer.concat(chunks));
      if (parsed !== undefined) {
        socket.destroy();
        clearTimeout(timer);
        resolve(parsed);
      }
    });
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', () => undefined);
    // Half-closed: the server knows no more bytes come, so it answers or closes at once.
    socket.end(bytes);
  });
}

function tryParseComplete(received: Buffer): Answer | undefined {
  const headEnd = received.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  // An interim answer (100 Continue) comes before the one that counts.
  if (/^HTTP\/1\.[01] 1\d\d /.test(received.subarray(0, 16).toString('latin1'))) {
    return tryParseComplete(received.subarray(headEnd + 4));
  }
  const answer = parseRawResponse(received);
  const length = Number.parseInt(String(answer.headers['content-length'] ?? ''), 10);
  if (Number.isNaN(length) || answer.body.byteLength < length) return undefined;
  return { ...answer, body: answer.body.subarray(0, length) };
}

function parseRawResponse(received: Buffer): Answer {
  const headEnd = received.indexOf('\r\n\r\n');
  const head = received.subarray(0, headEnd < 0 ? received.byteLength : headEnd).toString('latin1');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number.parseInt(statusLine.split(' ')[1] ?? '0', 10),
    contentType: headers['content-type'] ?? '',
    headers,
    body: headEnd < 0 ? Buffer.alloc(0) : received.subarray(headEnd + 4),
  };
}

/**
 * What is wrong with an answer, or undefined: never a 5xx; a 4xx is a problem+json whose status
 * matches and whose type, and field where one is expected, are those the model accepts; a 2xx is
 * the one the model expects.
 */
export function answerFault(answer: Answer, expected: Expected, method: string): string | undefined {
  const { status } = answer;
  if (status >= 500) return `a ${status}`;
  if (status < 200 || (status >= 300 && status < 400)) return `an unexpected ${status}`;
  let slug: string | undefined;
  let field: string | null = null;
  if (status >= 400) {
    if (!answer.contentType.startsWith('application/problem+json'))
      return `a ${status} as ${answer.contentType || 'no content type'}`;
    if (method !== 'HEAD') {
      let body: unknown;
      try {
        body = JSON.parse(answer.body.toString('utf8'));
      } catch {
        return `a ${status} whose body is not JSON`;
      }
      const shape = body as {
        type?: unknown;
        title?: unknown;
        status?: unknown;
        detail?: unknown;
        field?: unknown;
      };
      if (typeof shape.type !== 'string' || !shape.type.startsWith(problemTypeBase))
        return 'a problem without its type';
      if (typeof shape.title !== 'string' || typeof shape.detail !== 'string')
        return 'a problem without title or detail';
      if (shape.status !== status) return `a problem whose status ${String(shape.status)} is not ${status}`;
      if (shape.field !== undefined && typeof shape.field !== 'string')
        return 'a problem whose field is not text';
      slug = shape.type.slice(problemTypeBase.length);
      field = typeof shape.field === 'string' ? shape.field : null;
    } else {
      slug = undefined;
    }
    if (status === 405 && answer.headers.allow === undefined) return 'a 405 without Allow';
  }
  if (expected.kind === 'not-5xx') return undefined;
  if (expected.kind === 'any-4xx')
    return status >= 400 ? undefined : `a ${status} where a problem was expected`;
  const matching = expected.outcomes.filter(
    (outcome) =>
      outcome.status === status &&
      (method === 'HEAD' || outcome.slug === undefined || outcome.slug === slug) &&
      (method === 'HEAD' || outcome.fields === undefined || outcome.fields.includes(field)),
  );
  if (matching.length > 0) {
    // A 2xx whose body the model judges: right if one of the outcomes it matched finds no fault.
    const judged = matching.filter((outcome) => outcome.bodyFault !== undefined);
    if (judged.length === 0 || judged.length < matching.length || method === 'HEAD') return undefined;
    let body: unknown;
    try {
      body = JSON.parse(answer.body.toString('utf8'));
    } catch {
      return `a ${status} whose body is not JSON`;
    }
    const bodyFaults = judged.map((outcome) => outcome.bodyFault?.(body));
    if (bodyFaults.some((fault) => fault === undefined)) return undefined;
    return `a ${status} whose body is wrong: ${bodyFaults.join('; ')}`;
  }
  return `${status} ${slug ?? ''} ${field === null ? '' : `field ${JSON.stringify(field)}`}, expected ${JSON.stringify(expected.outcomes)}`;
}

/** The event API Gateway would hand the handler, with the body as given (a string, or base64). */
export function directEvent(
  route: HttpFunction,
  parts: {
    readonly parameter: string | undefined;
    readonly query: readonly (readonly [string, string])[];
    readonly headers: Readonly<Record<string, string>> | null;
    readonly body: string | null;
    readonly isBase64Encoded: boolean;
    readonly apiKeyId: string;
  },
): APIGatewayProxyEvent {
  const parameterName = /\{(\w+)\}/.exec(route.path)?.[1];
  return {
    resource: route.path,
    path: route.path,
    httpMethod: route.method,
    headers: parts.headers ?? (null as unknown as Record<string, string>),
    multiValueHeaders: {},
    queryStringParameters: parts.query.length === 0 ? null : Object.fromEntries(parts.query),
    multiValueQueryStringParameters: null,
    pathParameters:
      parameterName === undefined || parts.parameter === undefined
        ? null
        : { [parameterName]: parts.parameter },
    stageVariables: null,
    body: parts.body,
    isBase64Encoded: parts.isBase64Encoded,
    requestContext: {
      accountId: '000000000000',
      apiId: 'fuzz',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: route.method,
      path: route.path,
      stage: 'v1',
      requestId: 'fuzz',
      requestTimeEpoch: 0,
      resourceId: 'fuzz',
      resourcePath: route.path,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: parts.apiKeyId,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '127.0.0.1',
        user: null,
        userAgent: null,
        userArn: null,
      },
    },
  };
}

export { garbageFragment, percentEncode };
