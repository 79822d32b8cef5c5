/**
 * `npm run load:spend`: the double-spend check. One account that may not overdraw is funded with
 * `--balance` minor units; `--requests` transfers of `--amount` each leave it at once, under
 * distinct keys. Every answer must be 202 or 429 (velocity), none 5xx; once the system is quiet,
 * exactly min(accepted, ⌊balance / amount⌋) of the accepted transfers are posted and the rest
 * rejected as exceeds_credits, the account's balance is never below zero, and the ledger's
 * invariants hold. With `--velocity lifted` (the default) the account's velocity limit is raised
 * so that all are accepted; with `--velocity default` the deployment's limit answers 429 past it.
 *
 * The target is found as for `npm run load` (LEDGER_URL and LEDGER_API_KEY, or the runtime file).
 * Prints a summary, or one JSON line with --json; exits 1 when a check fails, 2 on bad flags.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ApiCallError, LedgerApi, quantile, sleep } from './ledger-api';
import { resolveTarget } from './target';

const currency = 'USD';
/** How long the accepted transfers may take to be posted or rejected. */
const settleTimeoutMs = 120_000;
const requestCountMax = 10_000;

function integer(value: string | undefined, fallback: bigint, name: string): bigint {
  if (value === undefined) return fallback;
  if (!/^[1-9]\d{0,17}$/.test(value)) throw new Error(`--${name} must be a whole number from 1`);
  return BigInt(value);
}

async function openAccount(api: LedgerApi, flags: Record<string, boolean>): Promise<string> {
  const answer = await api.expect(201, 'POST', '/v1/accounts', { body: JSON.stringify({ currency, flags }) });
  return (answer.body as { id: string }).id;
}

async function transferStatus(
  api: LedgerApi,
  id: string,
): Promise<{ status: string; reason: string | null }> {
  const answer = await api.expect(200, 'GET', `/v1/transfers/${id}`);
  const body = answer.body as { status: string; reason?: string | null };
  return { status: body.status, reason: body.reason ?? null };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string' },
      balance: { type: 'string' },
      amount: { type: 'string' },
      velocity: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const requestCount = Number(integer(values.requests, 100n, 'requests'));
  if (requestCount > requestCountMax) throw new Error(`--requests must be at most ${requestCountMax}`);
  const balance = integer(values.balance, 1_000n, 'balance');
  const amount = integer(values.amount, 30n, 'amount');
  const velocity = values.velocity ?? 'lifted';
  if (velocity !== 'lifted' && velocity !== 'default')
    throw new Error('--velocity must be lifted or default');
  const target = await resolveTarget();
  const api = new LedgerApi(target.url, target.apiKey);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const funding = await openAccount(api, {});
  const wallet = await openAccount(api, { debits_must_not_exceed_credits: true });
  const payee = await openAccount(api, {});
  if (velocity === 'lifted') {
    await api.expect(200, 'PUT', `/v1/accounts/${wallet}/velocity`, {
      body: JSON.stringify({ window_s: 60, max_transfers: Math.min(1_000, requestCount), max_amount: null }),
    });
  }
  const fundingAnswer = await api.expect(202, 'POST', '/v1/transfers', {
    body: JSON.stringify({
      debit_account_id: funding,
      credit_account_id: wallet,
      amount: String(balance),
      currency,
    }),
    headers: { 'idempotency-key': `spend-funding-${wallet}` },
  });
  const fundingId = (fundingAnswer.body as { id: string }).id;
  for (let waited = 0; (await transferStatus(api, fundingId)).status !== 'posted'; waited += 200) {
    if (waited > settleTimeoutMs) throw new ApiCallError('the funding transfer was not posted in time');
    await sleep(200);
  }
  log(`spending ${requestCount} × ${amount} from ${wallet}, funded with ${balance}`);

  const body = JSON.stringify({
    debit_account_id: wallet,
    credit_account_id: payee,
    amount: String(amount),
    currency,
  });
  const startedAt = performance.now();
  const answers = await Promise.all(
    Array.from({ length: requestCount }, async () => {
      const sentAt = performance.now();
      try {
        const answer = await api.call('POST', '/v1/transfers', {
          body,
          headers: { 'idempotency-key': `spend-${randomUUID()}` },
        });
        const id = answer.status === 202 ? (answer.body as { id: string }).id : undefined;
        return { status: answer.status, id, latencyMs: performance.now() - sentAt };
      } catch {
        return { status: 0, id: undefined, latencyMs: performance.now() - sentAt };
      }
    }),
  );
  const elapsedMs = performance.now() - startedAt;

  const accepted = answers.flatMap((answer) => (answer.id === undefined ? [] : [answer.id]));
  const deadline = Date.now() + settleTimeoutMs;
  let outcomes = await Promise.all(accepted.map((id) => transferStatus(api, id)));
  while (outcomes.some((outcome) => outcome.status === 'queued') && Date.now() < deadline) {
    await sleep(500);
    outcomes = await Promise.all(accepted.map((id) => transferStatus(api, id)));
  }
  const account = (await api.expect(200, 'GET', `/v1/accounts/${wallet}`)).body as Record<string, string>;
  const invariants = await api.callUntilDefinite('GET', '/v1/admin/invariants?full=true');

  const statusCounts: Record<string, number> = {};
  for (const answer of answers)
    statusCounts[String(answer.status)] = (statusCounts[String(answer.status)] ?? 0) + 1;
  const posted = outcomes.filter((outcome) => outcome.status === 'posted').length;
  const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
  const expectedPosted = Math.min(accepted.length, Number(balance / amount));
  const remaining = BigInt(account.credits_posted ?? '0') - BigInt(account.debits_posted ?? '0');
  const problems: string[] = [];
  const other = answers.filter((answer) => answer.status !== 202 && answer.status !== 429);
  if (other.length > 0) problems.push(`${other.length} answers were neither 202 nor 429`);
  if (posted !== expectedPosted) problems.push(`${posted} posted, expected ${expectedPosted}`);
  if (rejected.some((outcome) => outcome.reason !== 'exceeds_credits'))
    problems.push('a transfer was rejected for another reason than exceeds_credits');
  if (outcomes.length !== posted + rejected.length) problems.push('accepted transfers were still queued');
  if (remaining !== balance - BigInt(posted) * amount || remaining < 0n)
    problems.push(`the account holds ${remaining}, expected ${balance - BigInt(posted) * amount}`);
  if (invariants.status !== 200) problems.push(`GET /v1/admin/invariants answered ${invariants.status}`);

  const latencies = answers.map((answer) => answer.latencyMs).sort((left, right) => left - right);
  const report = {
    target: target.url,
    load_average_1m: Math.round((loadavg()[0] ?? 0) * 10) / 10,
    requests: requestCount,
    balance: String(balance),
    amount: String(amount),
    velocity,
    statuses: statusCounts,
    answered_in_ms: Math.round(elapsedMs),
    latency_ms: {
      p50: Math.round(quantile(latencies, 0.5)),
      p99: Math.round(quantile(latencies, 0.99)),
      max: Math.round(latencies.at(-1) ?? 0),
    },
    posted,
    rejected: rejected.length,
    expected_posted: expectedPosted,
    remaining_balance: String(remaining),
    consistent: problems.length === 0,
    problems,
  };
  process.stdout.write(
    values.json === true
      ? `${JSON.stringify(report)}\n`
      : `${Object.entries(report)
          .map(
            ([name, value]) =>
              `${name.padEnd(18)} ${typeof value === 'object' ? JSON.stringify(value) : value}`,
          )
          .join('\n')}\n`,
  );
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
