/** The admin reads as the API answers them (snake_case, amounts as decimal strings). */
import { formatMinorUnits } from '../domain/money';
import type { ActivityPage, QueueDepth, RecordedTransferRow, TransferListPage } from '../ports/admin';
import type { Gauges } from '../services/admin';
import {
  type ActivityResponse,
  type AdminTransferPageResponse,
  encodeActivityCursor,
  type GaugesResponse,
} from './schemas';

function adminTransferView(row: RecordedTransferRow): ActivityResponse['items'][number] {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    reason: row.reason,
    debit_account_id: row.debitAccountId,
    credit_account_id: row.creditAccountId,
    amount: row.amount === null ? null : formatMinorUnits(row.amount),
    currency: row.currency,
    accepted_at: row.acceptedAt,
    processed_at: row.processedAt,
    ...(row.eventPublishedAt === undefined ? {} : { event_published_at: row.eventPublishedAt }),
  };
}

export function activityView(page: ActivityPage): ActivityResponse {
  return { items: page.changes.map(adminTransferView), next_cursor: encodeActivityCursor(page.next) };
}

export function adminTransferPageView(page: TransferListPage): AdminTransferPageResponse {
  return { items: page.transfers.map(adminTransferView), next_cursor: page.nextBeforeId ?? null };
}

function queueDepthView(depth: QueueDepth | undefined): GaugesResponse['transfers_queue'] {
  return depth === undefined
    ? null
    : { visible: depth.visible, in_flight: depth.inFlight, delayed: depth.delayed };
}

export function gaugesView(gauges: Gauges): GaugesResponse {
  const { batches } = gauges;
  return {
    generated_at: gauges.generatedAt,
    transfers_queue: queueDepthView(gauges.transfersQueue),
    transfers_dead_letter_queue: queueDepthView(gauges.transfersDeadLetterQueue),
    throughput: {
      window_s: gauges.throughput.windowS,
      per_second: [...gauges.throughput.perSecond],
      truncated: gauges.throughput.truncated,
    },
    batches:
      batches === undefined
        ? null
        : {
            batch_count: batches.batchCount,
            transfer_count_avg: batches.transferCountAvg,
            transfer_count_max: batches.transferCountMax,
            duration_ms_p50: batches.durationMsP50,
            duration_ms_p95: batches.durationMsP95,
            duration_ms_max: batches.durationMsMax,
            recent: batches.recent.map((batch) => ({
              finished_at: batch.finishedAt,
              transfer_count: batch.transferCount,
              duration_ms: batch.durationMs,
            })),
          },
    fraud_flag_count: gauges.fraudFlagCount ?? null,
  };
}
