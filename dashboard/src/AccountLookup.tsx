import { useState } from 'react';
import { type AccountResponse, type Api, type EntryPageResponse, formatUsd } from './api';

export function AccountLookup(props: { readonly api: Api }) {
  const [accountId, setAccountId] = useState('');
  const [account, setAccount] = useState<AccountResponse | null>(null);
  const [pages, setPages] = useState<readonly EntryPageResponse[]>([]);
  const [error, setError] = useState<string | null>(null);

  const lookUp = async (event: React.FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      const id = accountId.trim();
      const [found, firstPage] = await Promise.all([props.api.account(id), props.api.entries(id, null)]);
      setAccount(found);
      setPages([firstPage]);
    } catch (caught) {
      setAccount(null);
      setPages([]);
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };
  const nextCursor = pages.at(-1)?.next_cursor ?? null;
  const older = async () => {
    if (account === null || nextCursor === null) return;
    try {
      const page = await props.api.entries(account.id, nextCursor);
      setPages([...pages, page]);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : String(caught));
    }
  };
  const entries = pages.flatMap((page) => page.items);
  return (
    <section aria-labelledby="account-heading" className="space-y-2">
      <h2 id="account-heading" className="text-lg font-semibold">
        Account lookup
      </h2>
      <form onSubmit={lookUp} className="flex flex-wrap items-end gap-2">
        <label className="text-sm">
          Account id
          <input
            value={accountId}
            onChange={(event) => setAccountId(event.target.value)}
            placeholder="00000000-0000-0000-0000-000000000000"
            className="ml-2 w-80 rounded border border-slate-300 px-2 py-1 font-mono text-xs"
          />
        </label>
        <button
          type="submit"
          className="rounded border border-sky-700 px-3 py-1 text-sm font-semibold text-sky-800"
        >
          Look up
        </button>
      </form>
      {error !== null && (
        <p role="alert" className="text-sm text-red-700">
          {error}
        </p>
      )}
      {account !== null && (
        <div className="space-y-2 text-sm">
          <dl className="grid grid-cols-2 gap-x-4 sm:grid-cols-4">
            <dt className="text-slate-500">debits posted</dt>
            <dd className="tabular-nums">{formatUsd(account.debits_posted)}</dd>
            <dt className="text-slate-500">credits posted</dt>
            <dd className="tabular-nums">{formatUsd(account.credits_posted)}</dd>
            <dt className="text-slate-500">balance (credits − debits)</dt>
            <dd className="tabular-nums" data-testid="account-balance">
              {formatUsd(BigInt(account.credits_posted) - BigInt(account.debits_posted))}
            </dd>
            <dt className="text-slate-500">may overdraw</dt>
            <dd>
              {account.flags.debits_must_not_exceed_credits ? 'no (debits must not exceed credits)' : 'yes'}
            </dd>
          </dl>
          <table className="w-full text-left text-xs [&_td]:pr-3 [&_th]:pr-3">
            <caption className="sr-only">Entries of the account, newest first</caption>
            <thead className="uppercase text-slate-500">
              <tr>
                <th scope="col">entry</th>
                <th scope="col">transfer</th>
                <th scope="col">direction</th>
                <th scope="col" className="text-right">
                  amount
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id} className="border-t border-slate-100">
                  <td className="font-mono">{entry.id}</td>
                  <td className="font-mono">{entry.transfer_id.slice(0, 8)}…</td>
                  <td>{entry.direction}</td>
                  <td className="text-right tabular-nums">{formatUsd(entry.amount)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {nextCursor !== null && (
            <button
              type="button"
              onClick={older}
              className="rounded border border-slate-300 px-2 py-1 text-xs"
            >
              Older entries
            </button>
          )}
        </div>
      )}
    </section>
  );
}
