import { useState } from 'react';
import { type Api, newIdempotencyKey, sleep, type TransferBatchProgress, waitForRecorded } from './api';

/** The demo accounts Dispatch uses, made on first use and kept for the browser session. */
interface DemoAccounts {
  readonly funding: string;
  readonly wallet: string;
  readonly shop: string;
}

const demoStorageName = 'ledgerx.demoAccounts';
const burstSizeMax = 200;
const burstConcurrencyMax = 4;
const batchSizeMax = 1_000;
/** How often a batch's progress is read, and for how long at most. */
const batchPollIntervalMs = 500;
const batchPollDurationMsMax = 120_000;
const doubleSpendCountMax = 50;
/** Dispatched amounts are 1.00 to 50.00 USD; the wallet is topped up by this much when short. */
const dispatchAmountMin = 100n;
const dispatchAmountSpan = 4_901n;
const topUpAmount = 100_000n;

function randomAmount(): bigint {
  const [random = 0] = crypto.getRandomValues(new Uint32Array(1));
  return dispatchAmountMin + (BigInt(random) % dispatchAmountSpan);
}

/**
 * The demo's accounts: a funding account (no balance rule), a wallet that may not overdraw
 * (`debits_must_not_exceed_credits`) and a shop. Made through the API the first time.
 */
async function demoAccounts(api: Api): Promise<DemoAccounts> {
  const stored = sessionStorage.getItem(demoStorageName);
  if (stored !== null) {
    const accounts = JSON.parse(stored) as DemoAccounts;
    try {
      await api.account(accounts.wallet);
      return accounts;
    } catch {
      // Another database since (a fresh npm start): make new ones.
    }
  }
  const funding = await api.openAccount({}, { role: 'demo funding' });
  const wallet = await api.openAccount({ debits_must_not_exceed_credits: true }, { role: 'demo wallet' });
  const shop = await api.openAccount({}, { role: 'demo shop' });
  const accounts = { funding: funding.id, wallet: wallet.id, shop: shop.id };
  sessionStorage.setItem(demoStorageName, JSON.stringify(accounts));
  return accounts;
}

/** Tops the wallet up from the funding account when it holds less than `needed`, and waits for it. */
async function fundAsNeeded(api: Api, accounts: DemoAccounts, needed: bigint): Promise<void> {
  const wallet = await api.account(accounts.wallet);
  const available =
    BigInt(wallet.credits_posted) - BigInt(wallet.debits_posted) - BigInt(wallet.debits_pending);
  if (available >= needed) return;
  const topUp = await api.submitTransfer(
    { debit: accounts.funding, credit: accounts.wallet, amount: needed - available + topUpAmount },
    newIdempotencyKey('demo-funding'),
  );
  await waitForRecorded(api, topUp.id);
}

interface DoubleSpendResult {
  readonly funded: bigint;
  readonly spend: bigint;
  readonly attempts: number;
  readonly posted: number;
  readonly rejected: number;
  readonly reasons: readonly string[];
  readonly walletId: string;
}

export function Actions(props: {
  readonly api: Api;
  readonly onFollow: (transferId: string) => void;
  readonly recordedIds: ReadonlySet<string>;
}) {
  const { api, onFollow, recordedIds } = props;
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [burstSize, setBurstSize] = useState('20');
  const [burst, setBurst] = useState<{ ids: readonly string[]; size: number } | null>(null);
  const [batchSize, setBatchSize] = useState('100');
  const [batch, setBatch] = useState<{
    readonly id: string;
    readonly queued: number;
    readonly refused: number;
    readonly progress: TransferBatchProgress | null;
  } | null>(null);
  const [funding, setFunding] = useState('25');
  const [spend, setSpend] = useState('5');
  const [spendCount, setSpendCount] = useState('12');
  const [doubleSpend, setDoubleSpend] = useState<DoubleSpendResult | null>(null);

  const run = async (name: string, work: () => Promise<void>) => {
    setBusy(name);
    setMessage(null);
    try {
      await work();
    } catch (error) {
      setMessage(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(null);
    }
  };

  const dispatch = () =>
    run('dispatch', async () => {
      const accounts = await demoAccounts(api);
      const amount = randomAmount();
      await fundAsNeeded(api, accounts, amount);
      const accepted = await api.submitTransfer(
        { debit: accounts.wallet, credit: accounts.shop, amount },
        newIdempotencyKey('dispatch'),
      );
      onFollow(accepted.id);
    });

  // A card authorisation: the wallet's money is held (pending), then the shop captures part of it
  // and the rest is released. The lifecycle follows the pending transfer, which ends `posted`.
  const authoriseAndCapture = () =>
    run('authorise', async () => {
      const accounts = await demoAccounts(api);
      const amount = randomAmount();
      await fundAsNeeded(api, accounts, amount);
      const held = await api.submitTransfer(
        { debit: accounts.wallet, credit: accounts.shop, amount, pending: true },
        newIdempotencyKey('authorise'),
      );
      onFollow(held.id);
      const recorded = await waitForRecorded(api, held.id);
      if (recorded.status !== 'pending') return;
      // Capture three quarters, in whole minor units, as a smaller final bill would.
      await api.postPending(held.id, (amount * 3n) / 4n, newIdempotencyKey('capture'));
    });

  const dispatchBurst = () =>
    run('burst', async () => {
      const size = Number.parseInt(burstSize, 10);
      if (!(size >= 1 && size <= burstSizeMax)) throw new Error(`burst size must be 1 to ${burstSizeMax}`);
      const accounts = await demoAccounts(api);
      const amounts = Array.from({ length: size }, randomAmount);
      await fundAsNeeded(
        api,
        accounts,
        amounts.reduce((sum, amount) => sum + amount, 0n),
      );
      const ids: string[] = [];
      setBurst({ ids: [], size });
      let next = 0;
      const worker = async () => {
        while (next < amounts.length) {
          const amount = amounts[next] ?? dispatchAmountMin;
          next += 1;
          const accepted = await api.submitTransfer(
            { debit: accounts.wallet, credit: accounts.shop, amount },
            newIdempotencyKey('burst'),
          );
          ids.push(accepted.id);
          setBurst({ ids: [...ids], size });
        }
      };
      await Promise.all(Array.from({ length: Math.min(burstConcurrencyMax, size) }, worker));
      const last = ids.at(-1);
      if (last !== undefined) onFollow(last);
    });

  const dispatchBatch = () =>
    run('batch', async () => {
      const size = Number.parseInt(batchSize, 10);
      if (!(size >= 1 && size <= batchSizeMax)) throw new Error(`batch size must be 1 to ${batchSizeMax}`);
      const accounts = await demoAccounts(api);
      const amounts = Array.from({ length: size }, randomAmount);
      await fundAsNeeded(
        api,
        accounts,
        amounts.reduce((sum, amount) => sum + amount, 0n),
      );
      setBatch(null);
      const answer = await api.submitBatch(
        amounts.map((amount) => ({ debit: accounts.wallet, credit: accounts.shop, amount })),
        newIdempotencyKey('batch'),
      );
      if (answer.batch_id === null) throw new Error('no item of the batch was queued');
      const batchId = answer.batch_id;
      const shown = { id: batchId, queued: answer.queued_count, refused: answer.refused_count };
      setBatch({ ...shown, progress: null });
      // Polls until every queued item is recorded, within a bound.
      const deadline = Date.now() + batchPollDurationMsMax;
      while (Date.now() < deadline) {
        const progress = await api.batchProgress(batchId);
        setBatch({ ...shown, progress });
        if (progress.recorded_count >= answer.queued_count) break;
        await sleep(batchPollIntervalMs);
      }
      const last = answer.items.findLast((item) => item.id !== undefined)?.id;
      if (last !== undefined) onFollow(last);
    });

  const runDoubleSpend = () =>
    run('double-spend', async () => {
      const funded = parsePositive(funding, 'funding');
      const spent = parsePositive(spend, 'spend');
      const attempts = Number.parseInt(spendCount, 10);
      if (!(attempts >= 1 && attempts <= doubleSpendCountMax)) {
        throw new Error(`concurrent spends must be 1 to ${doubleSpendCountMax}`);
      }
      setDoubleSpend(null);
      const source = await api.openAccount({}, { role: 'double-spend funding' });
      const wallet = await api.openAccount(
        { debits_must_not_exceed_credits: true },
        { role: 'double-spend wallet' },
      );
      const shop = await api.openAccount({}, { role: 'double-spend shop' });
      const fundingTransfer = await api.submitTransfer(
        { debit: source.id, credit: wallet.id, amount: funded },
        newIdempotencyKey('double-spend-funding'),
      );
      await waitForRecorded(api, fundingTransfer.id);
      // All spends leave at once; the ledger decides, one batch at a time per message group.
      const accepted = await Promise.all(
        Array.from({ length: attempts }, () =>
          api.submitTransfer(
            { debit: wallet.id, credit: shop.id, amount: spent },
            newIdempotencyKey('double-spend'),
          ),
        ),
      );
      const last = accepted.at(-1);
      if (last !== undefined) onFollow(last.id);
      const outcomes = await Promise.all(accepted.map((transfer) => waitForRecorded(api, transfer.id)));
      setDoubleSpend({
        funded,
        spend: spent,
        attempts,
        posted: outcomes.filter((outcome) => outcome.status === 'posted').length,
        rejected: outcomes.filter((outcome) => outcome.status === 'rejected').length,
        reasons: [
          ...new Set(outcomes.flatMap((outcome) => (outcome.reason === null ? [] : [outcome.reason]))),
        ],
        walletId: wallet.id,
      });
    });

  const burstRecorded = burst === null ? 0 : burst.ids.filter((id) => recordedIds.has(id)).length;
  const expectedPosted =
    doubleSpend === null ? 0 : Math.min(doubleSpend.attempts, Number(doubleSpend.funded / doubleSpend.spend));

  return (
    <section aria-labelledby="actions-heading" className="space-y-4">
      <h2 id="actions-heading" className="text-lg font-semibold">
        Actions
      </h2>
      <div>
        <button
          type="button"
          onClick={dispatch}
          disabled={busy !== null}
          className="rounded bg-sky-700 px-4 py-2 font-semibold text-white hover:bg-sky-800 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-700 disabled:opacity-50"
        >
          Dispatch Transaction
        </button>
        <p className="mt-1 text-xs text-slate-500">
          A random amount from the demo wallet to the demo shop; the wallet is funded first when short.
        </p>
      </div>

      <div>
        <button
          type="button"
          onClick={authoriseAndCapture}
          disabled={busy !== null}
          className={secondaryButton}
        >
          Authorise, then capture
        </button>
        <p className="mt-1 text-xs text-slate-500">
          A two-phase transfer: the amount is held on the wallet (pending), then three quarters of it is
          posted and the rest released. The lifecycle shows the hold, then its post.
        </p>
      </div>

      <fieldset className="space-y-2 rounded border border-slate-200 p-3">
        <legend className="px-1 text-sm font-semibold">Burst</legend>
        <label className="block text-sm">
          Burst size (1 to {burstSizeMax})
          <input
            type="number"
            min={1}
            max={burstSizeMax}
            value={burstSize}
            onChange={(event) => setBurstSize(event.target.value)}
            className="ml-2 w-24 rounded border border-slate-300 px-2 py-1"
          />
        </label>
        <button type="button" onClick={dispatchBurst} disabled={busy !== null} className={secondaryButton}>
          Dispatch burst
        </button>
        {burst !== null && (
          <div className="space-y-1 text-sm" data-testid="burst-progress">
            <label className="block">
              Accepted {burst.ids.length} of {burst.size}
              <progress className="ml-2 align-middle" max={burst.size} value={burst.ids.length} />
            </label>
            <label className="block">
              Recorded {burstRecorded} of {burst.size}
              <progress className="ml-2 align-middle" max={burst.size} value={burstRecorded} />
            </label>
          </div>
        )}
      </fieldset>

      <fieldset className="space-y-2 rounded border border-slate-200 p-3">
        <legend className="px-1 text-sm font-semibold">Batch</legend>
        <p className="text-xs text-slate-500">
          One POST /v1/transfers/batch of N transfers from the demo wallet to the demo shop, then its progress
          through the ledger (GET /v1/transfers/batch/&#123;id&#125;).
        </p>
        <label className="block text-sm">
          Batch size (1 to {batchSizeMax})
          <input
            type="number"
            min={1}
            max={batchSizeMax}
            value={batchSize}
            onChange={(event) => setBatchSize(event.target.value)}
            className="ml-2 w-24 rounded border border-slate-300 px-2 py-1"
          />
        </label>
        <button type="button" onClick={dispatchBatch} disabled={busy !== null} className={secondaryButton}>
          Submit batch
        </button>
        {batch !== null && (
          <div className="space-y-1 text-sm" data-testid="batch-progress">
            <p className="text-xs text-slate-500">
              batch <code>{batch.id}</code>: {batch.queued} queued, {batch.refused} refused
            </p>
            <label className="block">
              Recorded {batch.progress?.recorded_count ?? 0} of {batch.queued}
              <progress
                className="ml-2 align-middle"
                max={batch.queued}
                value={batch.progress?.recorded_count ?? 0}
              />
            </label>
            <p>
              Posted <strong data-testid="batch-posted">{batch.progress?.posted_count ?? 0}</strong> ·
              rejected <strong data-testid="batch-rejected">{batch.progress?.rejected_count ?? 0}</strong>
            </p>
          </div>
        )}
      </fieldset>

      <fieldset className="space-y-2 rounded border border-slate-200 p-3">
        <legend className="px-1 text-sm font-semibold">Double-spend demo</legend>
        <p className="text-xs text-slate-500">
          A new wallet that may not overdraw is funded with X; N spends of Y leave at once. Exactly ⌊X / Y⌋
          may post.
        </p>
        <div className="flex flex-wrap gap-3 text-sm">
          <label>
            Funding X (minor units)
            <input
              type="number"
              min={1}
              value={funding}
              onChange={(event) => setFunding(event.target.value)}
              className="ml-2 w-24 rounded border border-slate-300 px-2 py-1"
            />
          </label>
          <label>
            Spend Y (minor units)
            <input
              type="number"
              min={1}
              value={spend}
              onChange={(event) => setSpend(event.target.value)}
              className="ml-2 w-20 rounded border border-slate-300 px-2 py-1"
            />
          </label>
          <label>
            Concurrent spends N
            <input
              type="number"
              min={1}
              max={doubleSpendCountMax}
              value={spendCount}
              onChange={(event) => setSpendCount(event.target.value)}
              className="ml-2 w-20 rounded border border-slate-300 px-2 py-1"
            />
          </label>
        </div>
        <button type="button" onClick={runDoubleSpend} disabled={busy !== null} className={secondaryButton}>
          Run double-spend demo
        </button>
        {doubleSpend !== null && (
          <div role="status" data-testid="double-spend-result" className="rounded bg-slate-100 p-2 text-sm">
            <p>
              Posted <strong data-testid="double-spend-posted">{doubleSpend.posted}</strong> · rejected{' '}
              <strong data-testid="double-spend-rejected">{doubleSpend.rejected}</strong>
              {doubleSpend.reasons.length > 0 && <> ({doubleSpend.reasons.join(', ')})</>} of{' '}
              {doubleSpend.attempts} spends of {doubleSpend.spend.toString()} against{' '}
              {doubleSpend.funded.toString()}.
            </p>
            <p
              data-testid="double-spend-verdict"
              className={doubleSpend.posted === expectedPosted ? 'text-emerald-800' : 'text-red-800'}
            >
              Expected ⌊{doubleSpend.funded.toString()} / {doubleSpend.spend.toString()}⌋ = {expectedPosted}{' '}
              posted: {doubleSpend.posted === expectedPosted ? 'exactly that many posted' : 'MISMATCH'}
            </p>
            <p className="text-xs text-slate-500">
              wallet <code>{doubleSpend.walletId}</code>
            </p>
          </div>
        )}
      </fieldset>
      <p aria-live="polite" className="text-sm text-slate-600">
        {busy === null ? '' : `${busy}: working…`}
      </p>
      {message !== null && (
        <p role="alert" className="text-sm text-red-700">
          {message}
        </p>
      )}
    </section>
  );
}

const secondaryButton =
  'rounded border border-sky-700 px-3 py-1.5 text-sm font-semibold text-sky-800 hover:bg-sky-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-sky-700 disabled:opacity-50';

function parsePositive(value: string, what: string): bigint {
  if (!/^[1-9][0-9]{0,17}$/.test(value))
    throw new Error(`${what} must be a whole number of minor units from 1`);
  return BigInt(value);
}
