import type { AdminTransfer } from './api';
import { formatUsd } from './api';
import { clock, statusColour } from './Lifecycle';

export type StatusFilter = 'all' | 'posted' | 'rejected';

export function Recent(props: {
  readonly transfers: readonly AdminTransfer[];
  readonly filter: StatusFilter;
  readonly onFilter: (filter: StatusFilter) => void;
  readonly onFollow: (transferId: string) => void;
}) {
  const shown = props.transfers
    .filter((transfer) => props.filter === 'all' || transfer.status === props.filter)
    .slice(0, 25);
  return (
    <section aria-labelledby="recent-heading" className="space-y-2">
      <div className="flex items-center gap-3">
        <h2 id="recent-heading" className="text-lg font-semibold">
          Recent transfers
        </h2>
        <label className="text-sm">
          Status
          <select
            value={props.filter}
            onChange={(event) => props.onFilter(event.target.value as StatusFilter)}
            className="ml-2 rounded border border-slate-300 px-2 py-1"
          >
            <option value="all">all</option>
            <option value="posted">posted</option>
            <option value="rejected">rejected</option>
          </select>
        </label>
      </div>
      {shown.length === 0 ? (
        <p className="text-sm text-slate-500">No recorded transfers yet.</p>
      ) : (
        <table className="w-full text-left text-sm [&_td]:pr-3 [&_th]:pr-3">
          <caption className="sr-only">
            The newest recorded transfers; choose one to follow its lifecycle
          </caption>
          <thead className="text-xs uppercase text-slate-500">
            <tr>
              <th scope="col">recorded</th>
              <th scope="col">transfer</th>
              <th scope="col" className="text-right">
                amount
              </th>
              <th scope="col">status</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((transfer) => (
              <tr key={transfer.id} className="border-t border-slate-100" data-testid="recent-row">
                <td className="font-mono text-xs">{clock(transfer.processed_at)}</td>
                <td>
                  <button
                    type="button"
                    onClick={() => props.onFollow(transfer.id)}
                    className="font-mono text-xs text-sky-800 underline"
                    aria-label={`Follow transfer ${transfer.id}`}
                  >
                    {transfer.id.slice(0, 8)}…{transfer.id.slice(-4)}
                  </button>
                </td>
                <td className="text-right tabular-nums">
                  {transfer.amount === null ? '—' : formatUsd(transfer.amount)}
                </td>
                <td>
                  <span className={`rounded px-1.5 text-xs ${statusColour(transfer.status)}`}>
                    {transfer.status}
                    {transfer.reason === null ? '' : `: ${transfer.reason}`}
                  </span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
