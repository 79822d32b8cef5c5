import { useEffect, useState } from 'react';
import { type Api, ApiError, sleep, type TimelineStep, type TransferResponse } from './api';

/**
 * The journey of a transfer, in the order it happens. The ledger's outcome is one of `pending`,
 * `posted`, `voided` and `rejected`; a pending transfer then ends posted, voided or expired.
 */
const stepOrder = [
  'accepted',
  'idempotency_checked',
  'velocity_checked',
  'queued',
  'picked_up',
  'pending',
  'posted',
  'voided',
  'rejected',
  'outbox_written',
  'event_published',
  'fraud_scored',
  'pending_posted',
  'pending_voided',
  'pending_expired',
] as const satisfies readonly TimelineStep[];

/** The ledger's outcomes, of which a transfer records exactly one. */
const outcomeSteps: ReadonlySet<TimelineStep> = new Set(['pending', 'posted', 'voided', 'rejected']);

/** What became of a pending transfer, of which it records at most one. */
const resolutionSteps: ReadonlySet<TimelineStep> = new Set([
  'pending_posted',
  'pending_voided',
  'pending_expired',
]);

const stepLabels: Readonly<Record<TimelineStep, string>> = {
  accepted: 'Accepted by the API',
  idempotency_checked: 'Idempotency key checked',
  velocity_checked: 'Velocity limits checked',
  queued: 'Queued in the FIFO queue',
  picked_up: 'Picked up in a consumer batch',
  pending: 'Held by the ledger (pending)',
  posted: 'Posted to the ledger',
  voided: 'Voided its pending transfer',
  rejected: 'Rejected by the ledger',
  outbox_written: 'Outbox row written',
  event_published: 'Published to EventBridge',
  fraud_scored: 'Fraud verdict stored',
  pending_posted: 'Hold posted',
  pending_voided: 'Hold voided',
  pending_expired: 'Hold expired',
};

interface FraudVerdict {
  readonly status: string;
  readonly score: number | null;
  readonly reasons: readonly string[];
}

/** How long the view keeps following a transfer once its event was published (for later steps). */
const followAfterPublishedMs = 8_000;
const followTotalMs = 60_000;
const pollIntervalMs = 300;

export function Lifecycle(props: { readonly api: Api; readonly transferId: string | null }) {
  const { api, transferId } = props;
  const [transfer, setTransfer] = useState<TransferResponse | null>(null);
  const [following, setFollowing] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (transferId === null) return;
    let stopped = false;
    setTransfer(null);
    setError(null);
    setFollowing(true);
    void (async () => {
      const startedAt = Date.now();
      let publishedSeenAt: number | undefined;
      while (!stopped && Date.now() - startedAt < followTotalMs) {
        try {
          const read = await api.transfer(transferId);
          if (stopped) return;
          setTransfer(read);
          const steps = new Set(read.timeline.map((step) => step.step));
          if (steps.has('event_published')) publishedSeenAt ??= Date.now();
          if (steps.has('fraud_scored')) break;
          if (publishedSeenAt !== undefined && Date.now() - publishedSeenAt > followAfterPublishedMs) break;
        } catch (caught) {
          if (!(caught instanceof ApiError && caught.status === 404)) {
            setError(caught instanceof Error ? caught.message : String(caught));
          }
        }
        await sleep(pollIntervalMs);
      }
      if (!stopped) setFollowing(false);
    })();
    return () => {
      stopped = true;
    };
  }, [api, transferId]);

  if (transferId === null) {
    return (
      <p className="text-sm text-slate-500">
        Dispatch a transaction, or pick one from the list, to follow it.
      </p>
    );
  }
  // The fraud verdict, when the API has fraud scoring (its `fraud` object); read loosely, as this
  // page may run against a build without it.
  const fraud = (transfer as { fraud?: FraudVerdict } | null)?.fraud;
  const recorded = [...(transfer?.timeline ?? [])].sort(
    (left, right) => stepOrder.indexOf(left.step) - stepOrder.indexOf(right.step),
  );
  const lastIndex = Math.max(-1, ...recorded.map((step) => stepOrder.indexOf(step.step)));
  const outcome = recorded.find((step) => outcomeSteps.has(step.step))?.step;
  // A pending transfer waits for its post, void or expiry; any other transfer is done once its
  // outcome is recorded, and the steps after it are the outbox's and the fraud scorer's.
  const waitsForResolution =
    outcome === 'pending' && !recorded.some((step) => resolutionSteps.has(step.step));
  const pending = stepOrder
    .slice(lastIndex + 1)
    .find(
      (step) =>
        !(outcome !== undefined && outcomeSteps.has(step)) &&
        (!resolutionSteps.has(step) || waitsForResolution),
    );
  const pendingLabel =
    pending !== undefined && outcomeSteps.has(pending)
      ? 'Posted, held or rejected by the ledger'
      : pending !== undefined && resolutionSteps.has(pending)
        ? 'Posted, voided or expired'
        : pending && stepLabels[pending];
  return (
    <section aria-labelledby="lifecycle-heading" className="space-y-3">
      <div className="flex flex-wrap items-baseline gap-x-3 gap-y-1">
        <h2 id="lifecycle-heading" className="text-lg font-semibold">
          Lifecycle
        </h2>
        <code className="text-xs text-slate-600 break-all" data-testid="followed-transfer-id">
          {transferId}
        </code>
        {transfer !== null && (
          <span
            data-testid="transfer-status"
            className={`rounded px-2 py-0.5 text-xs font-semibold ${statusColour(transfer.status)}`}
          >
            {transfer.status}
            {transfer.reason === null ? '' : `: ${transfer.reason}`}
          </span>
        )}
        <span className="text-xs text-slate-500" aria-live="polite">
          {following ? 'following…' : 'stopped following'}
        </span>
      </div>
      {error !== null && (
        <p role="alert" className="text-sm text-red-700">
          {error}
        </p>
      )}
      <ol aria-label="Timeline steps" className="relative space-y-1 border-l-2 border-slate-300 pl-4">
        {recorded.map((step, index) => {
          const previous = recorded[index - 1];
          const tookMs = previous === undefined ? undefined : Date.parse(step.at) - Date.parse(previous.at);
          return (
            <li key={step.step} data-step={step.step} data-state="recorded" className="text-sm">
              <span
                className="absolute -left-[7px] mt-1.5 h-3 w-3 rounded-full bg-emerald-600"
                aria-hidden="true"
              />
              <span className="font-medium">{stepLabels[step.step]}</span>{' '}
              <time dateTime={step.at} className="font-mono text-xs text-slate-600">
                {clock(step.at)}
              </time>{' '}
              {tookMs !== undefined && (
                <span className="font-mono text-xs text-slate-500" title="time since the previous step">
                  +{tookMs} ms
                </span>
              )}
              {step.step === 'queued' && transfer !== null && (
                <span className="block text-xs text-slate-600">
                  message group (debit account): <code>{transfer.debit_account_id}</code>
                </span>
              )}
              {step.step === 'rejected' && transfer?.reason != null && (
                <span className="block text-xs text-red-700">reason: {transfer.reason}</span>
              )}
              {step.step === 'fraud_scored' && fraud !== undefined && (
                <span className="block text-xs text-slate-600" data-testid="fraud-verdict">
                  {fraud.status}
                  {fraud.score === null ? '' : `, score ${fraud.score}`}
                  {fraud.reasons.length === 0 ? '' : ` (${fraud.reasons.join(', ')})`}
                </span>
              )}
            </li>
          );
        })}
        {pending !== undefined && (
          <li data-step={pending} data-state="pending" className="text-sm text-slate-500">
            <span
              className={`absolute -left-[7px] mt-1.5 h-3 w-3 rounded-full border-2 border-slate-400 bg-white ${following ? 'animate-pulse' : ''}`}
              aria-hidden="true"
            />
            {pendingLabel} <span className="text-xs">{following ? '(waiting)' : '(not recorded)'}</span>
          </li>
        )}
      </ol>
    </section>
  );
}

export function statusColour(status: string): string {
  if (status === 'posted') return 'bg-emerald-100 text-emerald-900';
  if (status === 'rejected') return 'bg-red-100 text-red-900';
  if (status === 'voided' || status === 'expired') return 'bg-slate-200 text-slate-800';
  return 'bg-amber-100 text-amber-900';
}

/** HH:MM:SS.mmm in UTC, as the API's timestamps are. */
export function clock(iso: string): string {
  return iso.slice(11, 23);
}
