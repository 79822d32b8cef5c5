import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AccountLookup } from './AccountLookup';
import { Actions } from './Actions';
import { type AdminTransfer, ApiError, apiClient, apiKeyStore, type GaugesResponse, sleep } from './api';
import { Gauges } from './Gauges';
import { Lifecycle } from './Lifecycle';
import { Recent, type StatusFilter } from './Recent';

/** How often the page asks for changes and for gauges. Polling: see the README for why. */
const activityPollMs = 1_000;
const gaugesPollMs = 2_000;
const recentKeptMax = 200;
const recordedIdsKeptMax = 10_000;

function KeyForm(props: { readonly onKey: (key: string) => void; readonly error: string | null }) {
  const [key, setKey] = useState('');
  return (
    <main className="mx-auto mt-24 max-w-md rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="text-xl font-semibold">LedgerX · System Internals</h1>
      <p className="mt-1 text-sm text-slate-600">
        The page is public; its data needs the API key. It is kept for this browser session only.
      </p>
      <form
        className="mt-4 space-y-3"
        onSubmit={(event) => {
          event.preventDefault();
          if (key.trim() !== '') props.onKey(key.trim());
        }}
      >
        <label className="block text-sm font-medium">
          API key
          <input
            type="password"
            autoComplete="off"
            value={key}
            onChange={(event) => setKey(event.target.value)}
            className="mt-1 block w-full rounded border border-slate-300 px-2 py-1.5 font-mono"
          />
        </label>
        {props.error !== null && (
          <p role="alert" className="text-sm text-red-700">
            {props.error}
          </p>
        )}
        <button type="submit" className="rounded bg-sky-700 px-4 py-2 font-semibold text-white">
          Connect
        </button>
      </form>
    </main>
  );
}

export function App() {
  const [key, setKey] = useState<string | null>(() => apiKeyStore.read());
  const [keyError, setKeyError] = useState<string | null>(null);
  const api = useMemo(() => (key === null ? null : apiClient(key)), [key]);
  const [gauges, setGauges] = useState<GaugesResponse | null>(null);
  const [gaugesError, setGaugesError] = useState<string | null>(null);
  const [recent, setRecent] = useState<readonly AdminTransfer[]>([]);
  const [filter, setFilter] = useState<StatusFilter>('all');
  const [followed, setFollowed] = useState<string | null>(null);
  const recordedIds = useRef(new Set<string>());
  const [recordedVersion, setRecordedVersion] = useState(0);

  const forgetKey = useCallback((reason: string | null) => {
    apiKeyStore.forget();
    setKey(null);
    setKeyError(reason);
    setGauges(null);
    setRecent([]);
  }, []);

  /** Merges transfers into the list: one row per transfer, its newest state, newest first. */
  const merge = useCallback((items: readonly AdminTransfer[]) => {
    if (items.length === 0) return;
    for (const item of items) {
      recordedIds.current.add(item.id);
      if (recordedIds.current.size > recordedIdsKeptMax) {
        const [oldest] = recordedIds.current;
        if (oldest !== undefined) recordedIds.current.delete(oldest);
      }
    }
    setRecordedVersion((version) => version + 1);
    setRecent((current) => {
      const byId = new Map(current.map((item) => [item.id, item]));
      for (const item of items) byId.set(item.id, { ...byId.get(item.id), ...item });
      return [...byId.values()]
        .sort((left, right) =>
          left.processed_at < right.processed_at ? 1 : left.processed_at > right.processed_at ? -1 : 0,
        )
        .slice(0, recentKeptMax);
    });
  }, []);

  // The live feed: each answer carries the cursor for the next, so every change is shown once.
  useEffect(() => {
    if (api === null) return;
    let stopped = false;
    void (async () => {
      let cursor: string | null = null;
      while (!stopped) {
        try {
          const page = await api.activity(cursor);
          if (stopped) return;
          cursor = page.next_cursor;
          merge(page.items);
          // A full page means more is waiting: read on at once.
          if (page.items.length === 100) continue;
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) {
            forgetKey('The API key was refused (401).');
            return;
          }
        }
        await sleep(activityPollMs);
      }
    })();
    return () => {
      stopped = true;
    };
  }, [api, merge, forgetKey]);

  useEffect(() => {
    if (api === null) return;
    let stopped = false;
    void (async () => {
      while (!stopped) {
        try {
          const read = await api.gauges();
          if (stopped) return;
          setGauges(read);
          setGaugesError(null);
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) {
            forgetKey('The API key was refused (401).');
            return;
          }
          setGaugesError(`gauges unavailable: ${error instanceof Error ? error.message : String(error)}`);
        }
        await sleep(gaugesPollMs);
      }
    })();
    return () => {
      stopped = true;
    };
  }, [api, forgetKey]);

  // A status filter also loads that status's newest transfers from the ledger, not only the feed's.
  useEffect(() => {
    if (api === null || filter === 'all') return;
    api.transfers(filter).then(
      (page) => merge(page.items),
      () => undefined,
    );
  }, [api, filter, merge]);

  if (api === null) {
    return (
      <KeyForm
        error={keyError}
        onKey={(entered) => {
          apiKeyStore.write(entered);
          setKeyError(null);
          setKey(entered);
        }}
      />
    );
  }
  void recordedVersion;
  return (
    <div className="mx-auto max-w-7xl space-y-6 p-4">
      <header className="flex flex-wrap items-baseline justify-between gap-2">
        <div>
          <h1 className="text-2xl font-semibold">LedgerX · System Internals</h1>
          <p className="text-sm text-slate-600">
            API → idempotency → velocity → SQS FIFO → consumer batch → Postgres → outbox → EventBridge →
            fraud. Every number here is read from the running system.
          </p>
        </div>
        <button
          type="button"
          onClick={() => forgetKey(null)}
          className="rounded border border-slate-300 px-2 py-1 text-sm"
        >
          Forget API key
        </button>
      </header>
      <Gauges gauges={gauges} error={gaugesError} />
      <div className="grid gap-6 lg:grid-cols-2">
        <div className="space-y-6 rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
          <Actions api={api} onFollow={setFollowed} recordedIds={recordedIds.current} />
        </div>
        <div className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
          <Lifecycle api={api} transferId={followed} />
        </div>
      </div>
      <div className="grid gap-6 lg:grid-cols-2">
        <div className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
          <Recent transfers={recent} filter={filter} onFilter={setFilter} onFollow={setFollowed} />
        </div>
        <div className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
          <AccountLookup api={api} />
        </div>
      </div>
    </div>
  );
}
