/**
 * The local front door: what API Gateway (REST API, Lambda proxy integration) does in front of the
 * HTTP functions. It routes by the functions' path templates, checks `x-api-key` on the routes
 * that require it, refuses bodies over 256 KiB, builds the proxy event a Lambda receives, and
 * turns the handler's result back into an HTTP response. It answers `GET /health` itself.
 */
import { isUtf8 } from 'node:buffer';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { HttpFunction, HttpMethod } from '../../shared/definitions';
import { requestBodyBytesMax } from '../../shared/handlers/http';
import { problemContentType, problemTypeBase } from '../../shared/handlers/problem';
import type { Logger } from '../../shared/ports/logger';
import { InvocationTimeoutError, lambdaContext, withTimeout } from './lambda-context';

/** Characters of the API key id: the first 16 hex digits of its SHA-256. */
const apiKeyIdHexLength = 16;
/** How long `stop` waits for open requests before it closes their connections. */
const stopTimeoutMs = 5_000;

/**
 * Invocations of one function at once, like a Lambda function's reserved concurrency. Locally
 * every handler shares one Node process and one AWS emulator: past a few dozen at once, more only
 * lengthen each call (and run each handler's timeout clock while it waits on a saturated
 * emulator), so a burst waits here, before its clock starts, as it would for a free instance.
 */
export const defaultFunctionConcurrencyMax = 32;
/**
 * How long a request may wait for a free invocation: API Gateway's integration timeout (29 s).
 * A request that waited this long is answered 504 without running.
 */
export const defaultInvocationWaitMsMax = 29_000;
/** Requests that may wait for one function at once; more are answered 503 (retry later). */
export const defaultWaitingCountMax = 10_000;

/** A handler as Lambda calls it for an API Gateway proxy event. */
export type HttpHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** One route: the HTTP function's definition and its handler. */
export interface FrontDoorRoute {
  readonly definition: HttpFunction;
  readonly handler: HttpHandler;
}

export interface FrontDoorOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly host?: string;
  readonly apiKey: string;
  readonly routes: readonly FrontDoorRoute[];
  readonly logger: Logger;
  /** Invocations of one function at once (default `defaultFunctionConcurrencyMax`). */
  readonly functionConcurrencyMax?: number;
  /** How long a request may wait for a free invocation (default `defaultInvocationWaitMsMax`). */
  readonly invocationWaitMsMax?: number;
  /** Requests that may wait for one function at once (default `defaultWaitingCountMax`). */
  readonly waitingCountMax?: number;
}

export interface FrontDoor {
  readonly url: string;
  /** `/health` answers 200 from now on (503 until then). */
  setReady(ready: boolean): void;
  stop(): Promise<void>;
}

/** The API key id API Gateway puts in `requestContext.identity.apiKeyId`, derived from the key. */
export function apiKeyIdOf(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex').slice(0, apiKeyIdHexLength);
}

interface Problem {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly detail: string;
}

/** Starts the HTTP server and resolves once it listens. */
export async function startFrontDoor(options: FrontDoorOptions): Promise<FrontDoor> {
  let ready = false;
  const expectedKeyDigest = createHash('sha256').update(options.apiKey).digest();
  const apiKeyId = apiKeyIdOf(options.apiKey);
  const concurrency = {
    active: options.functionConcurrencyMax ?? defaultFunctionConcurrencyMax,
    waitMsMax: options.invocationWaitMsMax ?? defaultInvocationWaitMsMax,
    waitingMax: options.waitingCountMax ?? defaultWaitingCountMax,
  };
  const routes = options.routes.map((route) => ({
    ...route,
    pattern: compileTemplate(route.definition.path),
    slots: new InvocationSlots(concurrency.active, concurrency.waitingMax),
  }));
  const host = options.host ?? '127.0.0.1';

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = requestUrl(request.url ?? '/');
    if (url === undefined) {
      return sendProblem(response, {
        status: 400,
        slug: 'bad-request',
        title: 'Bad request',
        detail: 'the request target is not a path',
      });
    }
    const method = request.method ?? 'GET';
    if (url.pathname === '/health') {
      if (method !== 'GET') return sendProblem(response, methodNotAllowed(['GET']), { Allow: 'GET' });
      if (!ready) {
        return sendProblem(response, {
          status: 503,
          slug: 'service-unavailable',
          title: 'Service unavailable',
          detail: 'LedgerX is starting',
        });
      }
      return sendJson(response, 200, { status: 'ok' });
    }
    const matches = routes
      .map((route) => ({ route, pathParameters: route.pattern(url.pathname) }))
      .filter((match) => match.pathParameters !== undefined);
    if (matches.length === 0) {
      return sendProblem(response, {
        status: 404,
        slug: 'not-found',
        title: 'Not found',
        detail: `no route for ${url.pathname}`,
      });
    }
    const match = matches.find((candidate) => candidate.route.definition.method === method);
    if (match === undefined) {
      const allowed = matches.map((candidate) => candidate.route.definition.method);
      return sendProblem(response, methodNotAllowed(allowed), { Allow: allowed.join(', ') });
    }
    const { route, pathParameters } = match;
    if (route.definition.apiKeyRequired && !keyMatches(request.headers['x-api-key'], expectedKeyDigest)) {
      return sendProblem(response, {
        status: 401,
        slug: 'unauthorized',
        title: 'Unauthorized',
        detail: 'a valid x-api-key header is required',
      });
    }
    const bodyBytesMax = route.definition.request.bodyBytesMax ?? requestBodyBytesMax;
    const body = await readBody(request, bodyBytesMax);
    if (body === 'too-large') {
      response.setHeader('Connection', 'close');
      return sendProblem(response, {
        status: 413,
        slug: 'payload-too-large',
        title: 'Payload too large',
        detail: `the request body is larger than ${bodyBytesMax} bytes`,
      });
    }
    if (!ready) {
      return sendProblem(response, {
        status: 503,
        slug: 'service-unavailable',
        title: 'Service unavailable',
        detail: 'LedgerX is starting or stopping',
      });
    }
    const { definition, handler } = route;
    const event = proxyEvent(request, url, definition, pathParameters ?? {}, body, {
      apiKeyId: definition.apiKeyRequired ? apiKeyId : null,
    });
    const slot = await route.slots.acquire(concurrency.waitMsMax);
    if (slot !== 'acquired') {
      return sendProblem(
        response,
        slot === 'full'
          ? {
              status: 503,
              slug: 'service-unavailable',
              title: 'Service unavailable',
              detail: `${definition.name} is at its concurrency limit and ${concurrency.waitingMax} requests wait for it; retry later`,
            }
          : {
              status: 504,
              slug: 'gateway-timeout',
              title: 'Gateway timeout',
              detail: `${definition.name} had no free invocation within ${concurrency.waitMsMax} ms`,
            },
      );
    }
    let result: APIGatewayProxyResult;
    try {
      if (!ready) {
        return sendProblem(response, {
          status: 503,
          slug: 'service-unavailable',
          title: 'Service unavailable',
          detail: 'LedgerX is stopping',
        });
      }
      const { timeoutS, memoryMiB } = definition.limits;
      const context = lambdaContext(definition.name, timeoutS, memoryMiB);
      result = await withTimeout(definition.name, timeoutS, () => handler(event, context));
    } catch (error) {
      options.logger.error('handler failed', { function: definition.name, error: String(error) });
      // API Gateway answers 504 when the integration times out and 502 when the Lambda fails.
      return sendProblem(
        response,
        error instanceof InvocationTimeoutError
          ? {
              status: 504,
              slug: 'gateway-timeout',
              title: 'Gateway timeout',
              detail: 'the handler timed out',
            }
          : { status: 502, slug: 'bad-gateway', title: 'Bad gateway', detail: 'the handler failed' },
      );
    } finally {
      route.slots.release();
    }
    sendResult(response, result);
  };

  // Node answers a request without Host with a bare 400 of its own; the front door does instead.
  const server: Server = createServer({ requireHostHeader: false }, (request, response) => {
    if (request.httpVersion === '1.1' && request.headers.host === undefined) {
      response.setHeader('Connection', 'close');
      return sendProblem(response, {
        status: 400,
        slug: 'bad-request',
        title: 'Bad request',
        detail: 'an HTTP/1.1 request needs a Host header',
      });
    }
    handle(request, response).catch((error: unknown) => {
      options.logger.error('front door failed', { error: String(error) });
      if (!response.headersSent) {
        sendProblem(response, {
          status: 500,
          slug: 'internal',
          title: 'Internal error',
          detail: 'unexpected error',
        });
      } else {
        response.destroy();
      }
    });
  });
  server.on('clientError', answerUnreadableRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    setReady: (value) => {
      ready = value;
    },
    stop: () => {
      stopping ??= (async () => {
        ready = false;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), stopTimeoutMs);
        await closed;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/**
 * A function's invocation slots: at most `concurrencyMax` run at once; the rest wait in arrival
 * order, at most `waitingCountMax` of them, each at most as long as it is allowed to.
 */
export class InvocationSlots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  public constructor(
    private readonly concurrencyMax: number,
    private readonly waitingCountMax: number,
  ) {}

  /** Takes a slot: 'acquired' (call `release` after), 'full' (too many wait), or 'timeout'. */
  public acquire(waitMsMax: number): Promise<'acquired' | 'full' | 'timeout'> {
    if (this.active < this.concurrencyMax) {
      this.active++;
      return Promise.resolve('acquired');
    }
    if (this.waiting.length >= this.waitingCountMax) return Promise.resolve('full');
    return new Promise((resolve) => {
      const grant = (): void => {
        clearTimeout(timer);
        resolve('acquired');
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve('timeout');
      }, waitMsMax);
      this.waiting.push(grant);
    });
  }

  /** Gives the slot to the longest waiting request, or frees it. */
  public release(): void {
    const next = this.waiting.shift();
    if (next === undefined) this.active--;
    else next();
  }
}

/**
 * Answers a request the HTTP parser could not read (bad framing, a byte a header may not hold,
 * headers over Node's 16 KiB) with a problem, as every other refusal, instead of Node's bare
 * status line; then closes the connection, whose next bytes cannot be trusted to start a request.
 */
function answerUnreadableRequest(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = JSON.stringify({
    type: `${problemTypeBase}bad-request`,
    title: status === 431 ? 'Request header fields too large' : 'Bad request',
    status,
    detail:
      status === 431
        ? 'the request headers are larger than the server reads'
        : 'the request is not valid HTTP',
  });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${problemContentType}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * The URL of a request target. A path is read as a path on this server, even one starting with
 * `//`, which a URL parser would otherwise take for a host; anything else (absolute form) is
 * parsed as it is. Undefined when it is no URL at all.
 */
function requestUrl(target: string): URL | undefined {
  try {
    return new URL(target.startsWith('/') ? `http://localhost${target}` : target);
  } catch {
    return undefined;
  }
}

function methodNotAllowed(allowed: readonly string[]): Problem {
  return {
    status: 405,
    slug: 'method-not-allowed',
    title: 'Method not allowed',
    detail: `this path answers ${allowed.join(', ')}`,
  };
}

/** Compares the presented key's digest with the expected one in constant time. */
function keyMatches(presented: string | string[] | undefined, expectedDigest: Buffer): boolean {
  if (typeof presented !== 'string' || presented === '') return false;
  return timingSafeEqual(createHash('sha256').update(presented).digest(), expectedDigest);
}

/**
 * Turns `/v1/accounts/{id}/entries` into a matcher that returns the path parameters of a
 * matching path (`{ id: '…' }`), or undefined. A parameter is one non-empty path segment.
 */
export function compileTemplate(template: string): (path: string) => Record<string, string> | undefined {
  const segments = template.split('/');
  return (path) => {
    const parts = path.split('/');
    if (parts.length !== segments.length) return undefined;
    const parameters: Record<string, string> = {};
    for (const [index, segment] of segments.entries()) {
      const part = parts[index] ?? '';
      const name = /^\{(\w+)\}$/.exec(segment)?.[1];
      if (name === undefined) {
        if (part !== segment) return undefined;
        continue;
      }
      if (part === '') return undefined;
      try {
        parameters[name] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    }
    return parameters;
  };
}

/** Reads the body up to the limit; a larger body is refused without reading the rest. */
async function readBody(request: IncomingMessage, bytesMax: number): Promise<Buffer | 'too-large'> {
  const declared = request.headers['content-length'];
  if (declared !== undefined && /^\d+$/.test(declared) && Number.parseInt(declared, 10) > bytesMax) {
    request.resume();
    return 'too-large';
  }
  const chunks: Buffer[] = [];
  let byteCount = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    byteCount += buffer.length;
    if (byteCount > bytesMax) {
      request.resume();
      return 'too-large';
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** The event API Gateway (REST API, proxy integration) hands to a Lambda for this request. */
function proxyEvent(
  request: IncomingMessage,
  url: URL,
  route: Pick<HttpFunction, 'method' | 'path'>,
  pathParameters: Record<string, string>,
  body: Buffer,
  identity: { apiKeyId: string | null },
): APIGatewayProxyEvent {
  // Header names keep the case the client sent, as API Gateway passes them. The maps have no
  // prototype, so a header or parameter named `toString` or `__proto__` is a key like any other
  // (as in the event Lambda parses from JSON), not a member of Object.prototype.
  const headers: Record<string, string> = Object.create(null);
  const multiValueHeaders: Record<string, string[]> = Object.create(null);
  for (let index = 0; index + 1 < request.rawHeaders.length; index += 2) {
    const name = request.rawHeaders[index] ?? '';
    const value = request.rawHeaders[index + 1] ?? '';
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  const query: Record<string, string> = Object.create(null);
  const multiValueQuery: Record<string, string[]> = Object.create(null);
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    multiValueQuery[name] = [...(multiValueQuery[name] ?? []), value];
  }
  const text = isUtf8(body);
  const hasQuery = Object.keys(query).length > 0;
  const hasPathParameters = Object.keys(pathParameters).length > 0;
  const requestTimeEpoch = Date.now();
  const sourceIp = request.socket.remoteAddress ?? '127.0.0.1';
  return {
    resource: route.path,
    path: url.pathname,
    httpMethod: route.method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiValueQuery : null,
    pathParameters: hasPathParameters ? pathParameters : null,
    stageVariables: null,
    // API Gateway hands over base64 what it takes for binary. Bytes that are not UTF-8 go so here:
    // as text each bad byte would become U+FFFD before any handler could tell it was sent.
    body: body.length === 0 ? null : text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !text,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: route.method satisfies HttpMethod,
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch,
      resourceId: 'local',
      resourcePath: route.path,
      identity: {
        accessKey: null,
        accountId: null,
        // API Gateway also passes the key itself; the handlers need only its id, so it stays out.
        apiKey: null,
        apiKeyId: identity.apiKeyId,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent: request.headers['user-agent'] ?? null,
        userArn: null,
      },
    },
  };
}

function sendResult(response: ServerResponse, result: APIGatewayProxyResult): void {
  for (const [name, value] of Object.entries(result.headers ?? {})) response.setHeader(name, String(value));
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
    response.setHeader(
      name,
      values.map((value) => String(value)),
    );
  }
  const body =
    result.isBase64Encoded === true
      ? Buffer.from(result.body, 'base64')
      : Buffer.from(result.body ?? '', 'utf8');
  response.statusCode = result.statusCode;
  response.setHeader('Content-Length', body.length);
  response.end(body);
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  contentType = 'application/json',
): void {
  const text = JSON.stringify(body);
  response.statusCode = status;
  response.setHeader('Content-Type', contentType);
  response.setHeader('Content-Length', Buffer.byteLength(text));
  response.end(text);
}

function sendProblem(response: ServerResponse, problem: Problem, headers: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
  sendJson(
    response,
    problem.status,
    {
      type: `${problemTypeBase}${problem.slug}`,
      title: problem.title,
      status: problem.status,
      detail: problem.detail,
    },
    problemContentType,
  );
}
