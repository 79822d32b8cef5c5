import type { GaugesResponse } from './api';

const noData = 'no data yet';

function Card(props: {
  readonly title: string;
  readonly testId: string;
  readonly children: React.ReactNode;
  readonly source: string;
}) {
  return (
    <section
      aria-label={props.title}
      data-testid={props.testId}
      className="rounded-lg border border-slate-200 bg-white p-3 shadow-sm"
    >
      <h3 className="text-xs font-semibold uppercase tracking-wide text-slate-500">{props.title}</h3>
      <div className="mt-1">{props.children}</div>
      <p className="mt-1 text-[11px] text-slate-400">{props.source}</p>
    </section>
  );
}

function QueueGauge(props: {
  readonly title: string;
  readonly testId: string;
  readonly depth: GaugesResponse['transfers_queue'];
  readonly source: string;
}) {
  const { depth } = props;
  return (
    <Card title={props.title} testId={props.testId} source={props.source}>
      {depth === null ? (
        <p className="text-sm text-slate-500">unreadable</p>
      ) : (
        <>
          <p className="text-2xl font-semibold tabular-nums" data-testid={`${props.testId}-value`}>
            {depth.visible + depth.in_flight + depth.delayed}
          </p>
          <p className="text-xs text-slate-600 tabular-nums">
            {depth.visible} waiting · {depth.in_flight} in flight · {depth.delayed} delayed
          </p>
        </>
      )}
    </Card>
  );
}

/** Transfers per second over the window, as bars; an inline SVG, no chart library. */
function ThroughputChart(props: { readonly perSecond: readonly number[] }) {
  const { perSecond } = props;
  const peak = Math.max(1, ...perSecond);
  const height = 48;
  const recent = perSecond.slice(-5);
  // One bar per second of the window that had transfers; its x is its second.
  const bars = perSecond.flatMap((value, second) => (value === 0 ? [] : [{ second, value }]));
  const currentPerS = recent.reduce((sum, value) => sum + value, 0) / Math.max(1, recent.length);
  const label = `Transfers per second over the last ${perSecond.length} seconds: now ${currentPerS.toFixed(1)} per second, peak ${peak}`;
  return (
    <>
      <p className="text-2xl font-semibold tabular-nums" data-testid="throughput-now">
        {currentPerS.toFixed(1)}
        <span className="ml-1 text-sm font-normal text-slate-500">/s now · peak {peak}/s</span>
      </p>
      <svg
        role="img"
        aria-label={label}
        viewBox={`0 0 ${perSecond.length} ${height}`}
        preserveAspectRatio="none"
        className="mt-1 h-16 w-full bg-slate-50"
      >
        {bars.map((bar) => (
          <rect
            key={bar.second}
            x={bar.second}
            width={0.9}
            y={height - (bar.value / peak) * height}
            height={(bar.value / peak) * height}
            className="fill-sky-600"
          />
        ))}
      </svg>
      <p className="flex justify-between text-[11px] text-slate-400">
        <span>−{perSecond.length} s</span>
        <span>now</span>
      </p>
    </>
  );
}

export function Gauges(props: { readonly gauges: GaugesResponse | null; readonly error: string | null }) {
  const { gauges } = props;
  return (
    <section aria-labelledby="gauges-heading" className="space-y-2">
      <h2 id="gauges-heading" className="text-lg font-semibold">
        Gauges
      </h2>
      {props.error !== null && (
        <p role="alert" className="text-sm text-red-700">
          {props.error}
        </p>
      )}
      {gauges === null ? (
        <p className="text-sm text-slate-500">loading…</p>
      ) : (
        <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-5">
          <QueueGauge
            title="Queue depth"
            testId="gauge-queue"
            depth={gauges.transfers_queue}
            source="SQS GetQueueAttributes, transfers FIFO queue"
          />
          <QueueGauge
            title="Dead-letter queue"
            testId="gauge-dlq"
            depth={gauges.transfers_dead_letter_queue}
            source="SQS GetQueueAttributes, transfers DLQ"
          />
          <div className="sm:col-span-2 lg:col-span-1">
            <Card
              title="Transfers per second"
              testId="gauge-throughput"
              source={`Postgres: outbox rows per second, last ${gauges.throughput.window_s} s`}
            >
              <ThroughputChart perSecond={gauges.throughput.per_second} />
            </Card>
          </div>
          <Card
            title="Consumer batches"
            testId="gauge-batches"
            source="Postgres: ledger.consumer_batches, newest 200"
          >
            {gauges.batches === null ? (
              <p className="text-sm text-slate-500">{noData}</p>
            ) : (
              <>
                <p className="text-2xl font-semibold tabular-nums">
                  {gauges.batches.transfer_count_avg.toFixed(1)}
                  <span className="ml-1 text-sm font-normal text-slate-500">
                    transfers/batch (max {gauges.batches.transfer_count_max})
                  </span>
                </p>
                <p className="text-xs text-slate-600 tabular-nums">
                  p50 {gauges.batches.duration_ms_p50.toFixed(1)} ms · p95{' '}
                  {gauges.batches.duration_ms_p95.toFixed(1)} ms · max{' '}
                  {gauges.batches.duration_ms_max.toFixed(1)} ms over {gauges.batches.batch_count} batches
                </p>
              </>
            )}
          </Card>
          <Card title="Fraud flags" testId="gauge-fraud" source="Postgres: fraud.verdicts, flagged">
            {gauges.fraud_flag_count === null ? (
              <p className="text-sm text-slate-500">{noData}</p>
            ) : (
              <p className="text-2xl font-semibold tabular-nums">{gauges.fraud_flag_count}</p>
            )}
          </Card>
        </div>
      )}
    </section>
  );
}
