import { randomUUID } from 'node:crypto';
import type { SQSEvent, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import type pg from 'pg';
import { PostgresLedgerStore } from '../../shared/adapters/postgres/ledger-store';
import { type AccountId, newAccountId, newTransferId } from '../../shared/domain/ids';
import type { Metadata } from '../../shared/domain/metadata';
import { type CurrencyCode, parseCurrency } from '../../shared/domain/money';
import { type TransferCommand, toTransferMessage } from '../../shared/domain/transfer';

/** Reads a currency code a test names, failing loudly on a typo. */
export function currency(code: string): CurrencyCode {
  const parsed = parseCurrency(code);
  if (parsed === undefined) throw new Error(`test fixture: unknown currency ${code}`);
  return parsed;
}

export const usd = currency('USD');

/** An account row as a test writes it; totals always start at zero and move only by posting. */
export interface AccountFixture {
  readonly id: AccountId;
  readonly currency: CurrencyCode;
  readonly code: number;
  readonly debitsMustNotExceedCredits: boolean;
  readonly creditsMustNotExceedDebits: boolean;
  readonly metadata: Metadata;
}

/** Builds an account row: a fresh id, USD, no balance flags, unless the test says otherwise. */
export function accountFactory(overrides: Partial<AccountFixture> = {}): AccountFixture {
  return {
    id: newAccountId(),
    currency: usd,
    code: 0,
    debitsMustNotExceedCredits: false,
    creditsMustNotExceedDebits: false,
    metadata: {},
    ...overrides,
  };
}

/** Inserts an account into ledger.accounts and returns its id. */
export async function createAccount(
  pool: pg.Pool,
  overrides: Partial<AccountFixture> = {},
): Promise<AccountId> {
  const account = accountFactory(overrides);
  await pool.query(
    `insert into ledger.accounts
       (id, currency, code, debits_must_not_exceed_credits, credits_must_not_exceed_debits, metadata)
     values ($1, $2, $3, $4, $5, $6)`,
    [
      account.id,
      account.currency,
      account.code,
      account.debitsMustNotExceedCredits,
      account.creditsMustNotExceedDebits,
      JSON.stringify(account.metadata),
    ],
  );
  return account.id;
}

/**
 * Builds a transfer command: a fresh id, 100 minor units of USD, accepted now. The default
 * accounts are fresh ids that no account row has, so a test names the accounts it means.
 */
export function transferFactory(overrides: Partial<TransferCommand> = {}): TransferCommand {
  return {
    id: newTransferId(),
    debitAccountId: newAccountId(),
    creditAccountId: newAccountId(),
    amount: 100n,
    currency: usd,
    metadata: {},
    acceptedAt: new Date().toISOString(),
    ...overrides,
  };
}

/** Fields of an SQS record a test may set; `attributes` are merged into the defaults. */
export interface RecordOverrides extends Partial<Omit<SQSRecord, 'attributes'>> {
  readonly attributes?: Partial<SQSRecordAttributes>;
}

/**
 * Builds the SQS FIFO record that carries a transfer, as the API would send it: grouped by the
 * debit account and deduplicated by the transfer id.
 */
export function transferRecord(transfer: TransferCommand, overrides: RecordOverrides = {}): SQSRecord {
  const { attributes, ...fields } = overrides;
  return {
    messageId: randomUUID(),
    receiptHandle: `receipt-${randomUUID()}`,
    body: JSON.stringify(toTransferMessage(transfer)),
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: String(Date.now()),
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      MessageGroupId: transfer.debitAccountId,
      MessageDeduplicationId: transfer.id,
      ...attributes,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:transfers.fifo',
    awsRegion: 'eu-west-1',
    ...fields,
  };
}

/** Wraps records into the event Lambda hands to the consumer. */
export function sqsEvent(records: readonly SQSRecord[]): SQSEvent {
  return { Records: [...records] };
}

/**
 * Credits an account by posting a real transfer to it from a fresh, unflagged funding account, so
 * the account's totals always equal its entries. Returns the funding transfer.
 */
export async function fund(
  pool: pg.Pool,
  accountId: AccountId,
  amount: bigint,
  fundingCurrency: CurrencyCode = usd,
): Promise<TransferCommand> {
  const fundingAccountId = await createAccount(pool, {
    currency: fundingCurrency,
    metadata: { role: 'funding' },
  });
  const transfer = transferFactory({
    debitAccountId: fundingAccountId,
    creditAccountId: accountId,
    amount,
    currency: fundingCurrency,
  });
  const { results } = await new PostgresLedgerStore(pool).postBatch([transfer], []);
  if (results[0] !== 'posted') throw new Error(`test fixture: funding ${accountId} was ${results[0]}`);
  return transfer;
}
