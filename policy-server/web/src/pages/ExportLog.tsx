import { useState, type FormEvent } from 'react';
import { queryString, type ApiClient, type Query } from '../api';
import { ErrorMessage, Loading, useLoad } from '../components/common';
import { useConsole } from '../context';
import { formatSize, formatTime, localDayStart } from '../format';
import { href, navigate } from '../route';
import type { ChainReport, EventPage, ZonesResponse } from '../types';

export const CHANNELS = ['removableMedia', 'outboundFolders', 'mail'] as const;
const PAGE_SIZE = '50';
/** The filter fields as they appear in the page's URL (days are the reader's local calendar days). */
const FILTER_KEYS = ['from', 'to', 'osUser', 'host', 'zoneId', 'channel', 'deviceSerial', 'deviceLabel', 'fileName', 'sha256', 'action'] as const;
type FilterKey = (typeof FILTER_KEYS)[number];
type Filter = Partial<Record<FilterKey, string>>;

/** Columns the server can sort by (each has an index to page through), and the direction a first click picks. */
const SORTABLE = { occurredAt: 'desc', osUser: 'asc', fileName: 'asc', size: 'desc' } as const;
type SortKey = keyof typeof SORTABLE;
interface Sort {
  readonly key: SortKey;
  readonly ascending: boolean;
}

function pickSort(query: Readonly<Record<string, string>>): Sort | null {
  const key = query.sort;
  if (key === undefined || !(key in SORTABLE)) return null;
  return { key: key as SortKey, ascending: query.order === 'asc' };
}

function sortQuery(sort: Sort | null): Query {
  return sort === null ? {} : { sort: sort.key, order: sort.ascending ? 'asc' : 'desc' };
}

/** The page's filter as the server's query: a "to" day includes the whole day. */
function apiQuery(filter: Filter): Query {
  return {
    ...filter,
    from: filter.from ? localDayStart(filter.from) : undefined,
    to: filter.to ? localDayStart(filter.to, 1) : undefined,
  };
}

function pickFilter(query: Readonly<Record<string, string>>): Filter {
  const filter: Filter = {};
  for (const key of FILTER_KEYS) if (query[key]) filter[key] = query[key];
  return filter;
}

/** The page's data call for its URL query: the page's own load and the early one at start-up (prefetchLog) must agree. */
function logRequest(query: Readonly<Record<string, string>>): [string, Query] {
  const sort = pickSort(query);
  const paging = sort === null ? { before: query.before } : { after: query.after };
  return ['/api/v1/events', { ...apiQuery(pickFilter(query)), ...sortQuery(sort), ...paging, limit: PAGE_SIZE }];
}

/** Started by main.tsx before the session is known, when the console opens on the export log. */
export function prefetchLog(api: ApiClient, query: Readonly<Record<string, string>>): Promise<void> {
  return api.prefetch(...logRequest(query));
}

export function ExportLogPage({ query }: { query: Readonly<Record<string, string>> }) {
  const { api, t, language } = useConsole();
  const filter = pickFilter(query);
  const filterKey = JSON.stringify(filter);
  const before = query.before;
  const sort = pickSort(query);
  const sortKey = JSON.stringify(sort);
  const after = sort === null ? undefined : query.after;
  const [draft, setDraft] = useState<Filter>(filter);
  const [verifying, setVerifying] = useState(false);
  const [verify, setVerify] = useState<{ export: ChainReport; audit: ChainReport } | null>(null);
  const [verifyError, setVerifyError] = useState<unknown>(undefined);
  const zones = useLoad(() => api.get<ZonesResponse>('/api/v1/zones'), [api]);
  const page = useLoad(
    () => api.get<EventPage>(...logRequest(query)),
    [api, filterKey, sortKey, before, after],
    () => api.takeReady<EventPage>(...logRequest(query)),
  );

  const submit = (event: FormEvent) => {
    event.preventDefault();
    navigate('log', { ...draft, ...sortQuery(sort) });
  };
  const sortLabels: Record<SortKey, string> = { occurredAt: t.log.time, osUser: t.log.user, fileName: t.log.fileNameColumn, size: t.log.size };
  /** A column heading: a button that sorts by it (again: the other way), with aria-sort saying the current order. */
  const sortableHeading = (key: SortKey) => {
    const active = sort?.key === key;
    const next: Sort = active ? { key, ascending: !sort.ascending } : { key, ascending: SORTABLE[key] === 'asc' };
    return (
      <th scope="col" aria-sort={active ? (sort.ascending ? 'ascending' : 'descending') : 'none'} data-sort={key}>
        <button type="button" className="sort" title={t.log.sortBy(sortLabels[key])} onClick={() => navigate('log', { ...filter, ...sortQuery(next) })}>
          {sortLabels[key]}
          <span aria-hidden="true">{active ? (sort.ascending ? ' ▲' : ' ▼') : ' ↕'}</span>
        </button>
      </th>
    );
  };
  const clear = () => {
    setDraft({});
    navigate('log');
  };
  const runVerify = () => {
    setVerifying(true);
    setVerify(null);
    setVerifyError(undefined);
    api.get<{ export: ChainReport; audit: ChainReport }>('/api/v1/log/verify').then(
      (result) => {
        setVerify(result);
        setVerifying(false);
      },
      (error: unknown) => {
        setVerifyError(error);
        setVerifying(false);
      },
    );
  };
  const field = (key: FilterKey) => ({ id: `f-${key}`, name: key, value: draft[key] ?? '', onChange: (e: { target: { value: string } }) => setDraft({ ...draft, [key]: e.target.value }) });

  return (
    <section aria-labelledby="log-title">
      <h1 id="log-title">{t.log.title}</h1>
      <form className="filters" onSubmit={submit} aria-label={t.common.search}>
        <div>
          <label htmlFor="f-from">{t.log.from}</label>
          <input type="date" {...field('from')} />
        </div>
        <div>
          <label htmlFor="f-to">{t.log.to}</label>
          <input type="date" {...field('to')} />
        </div>
        <div>
          <label htmlFor="f-osUser">{t.log.user}</label>
          <input {...field('osUser')} />
        </div>
        <div>
          <label htmlFor="f-host">{t.log.host}</label>
          <input {...field('host')} />
        </div>
        <div>
          <label htmlFor="f-zoneId">{t.log.zone}</label>
          <select {...field('zoneId')}>
            <option value="">{t.log.any}</option>
            {(zones.data?.zones ?? []).map((z) => (
              <option key={z.zone.id} value={z.zone.id}>
                {z.zone.name} ({z.zone.id})
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-channel">{t.log.channel}</label>
          <select {...field('channel')}>
            <option value="">{t.log.any}</option>
            {CHANNELS.map((c) => (
              <option key={c} value={c}>
                {t.channels[c]}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-deviceSerial">{t.log.deviceSerial}</label>
          <input {...field('deviceSerial')} />
        </div>
        <div>
          <label htmlFor="f-deviceLabel">{t.log.deviceLabel}</label>
          <input {...field('deviceLabel')} />
        </div>
        <div>
          <label htmlFor="f-fileName">{t.log.fileName}</label>
          <input {...field('fileName')} />
        </div>
        <div>
          <label htmlFor="f-sha256">{t.log.sha256}</label>
          <input {...field('sha256')} pattern="[0-9a-f]{64}" size={20} />
        </div>
        <div>
          <label htmlFor="f-action">{t.log.action}</label>
          <select {...field('action')}>
            <option value="">{t.log.any}</option>
            {Object.entries(t.actions).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="buttons">
          <button type="submit">{t.common.search}</button>
          <button type="button" onClick={clear}>
            {t.common.clear}
          </button>
        </div>
      </form>

      <div className="toolbar">
        <a className="button" id="csv" href={`/api/v1/console/events.csv${queryString(apiQuery(filter))}`} download>
          {t.log.csv}
        </a>
        <button type="button" onClick={runVerify} disabled={verifying}>
          {verifying ? t.log.verifying : t.log.verify}
        </button>
        <span className="note" data-testid="sort-note">
          {sort === null ? t.log.sortNote : t.log.sortedNote(sortLabels[sort.key], sort.ascending)}
        </span>
      </div>
      <ErrorMessage error={verifyError} />
      {verify !== null && (
        <div className="verify" role="status" data-testid="verify-result">
          {[
            [t.log.exportLog, verify.export],
            [t.log.auditLog, verify.audit],
          ].map(([label, report]) => {
            const r = report as ChainReport;
            return (
              <div key={label as string} className={r.ok ? 'ok' : 'bad'}>
                <strong>{label as string}:</strong> {r.ok ? t.log.verifyOk(r.rowsChecked) : t.log.verifyBroken(r.problems.length)}
                {!r.ok && (
                  <ul>
                    {r.problems.map((p) => (
                      <li key={`${p.seq}-${p.problem}`}>
                        #{p.seq}: {p.problem}
                      </li>
                    ))}
                  </ul>
                )}
              </div>
            );
          })}
        </div>
      )}

      <ErrorMessage error={page.error} />
      {page.loading && page.data === undefined ? (
        <Loading />
      ) : page.data !== undefined && page.data.events.length === 0 ? (
        <p data-testid="no-rows">{t.common.noRows}</p>
      ) : (
        page.data !== undefined && (
          <>
            <div className="table-wrap">
              <table className="log" aria-busy={page.loading}>
                <thead>
                  <tr>
                    {sortableHeading('occurredAt')}
                    {sortableHeading('osUser')}
                    <th scope="col">{t.log.host}</th>
                    <th scope="col">{t.log.zone}</th>
                    <th scope="col">{t.log.channel}</th>
                    <th scope="col">{t.log.device}</th>
                    {sortableHeading('fileName')}
                    {sortableHeading('size')}
                    <th scope="col">{t.log.action}</th>
                  </tr>
                </thead>
                <tbody>
                  {page.data.events.map((e) => (
                    <tr key={e.seq} data-seq={e.seq}>
                      <td>{formatTime(e.occurredAt, language)}</td>
                      <td>{e.osUser}</td>
                      <td>{e.host}</td>
                      <td>{e.zoneId}</td>
                      <td>{t.channels[e.channel] ?? e.channel}</td>
                      <td>{[e.deviceLabel, e.deviceSerial].filter((v) => v !== null).join(' / ')}</td>
                      <td>
                        <a href={href(`log/${e.seq}`)} title={t.log.open}>
                          {e.fileName}
                        </a>
                      </td>
                      <td className="num">{formatSize(e.size)}</td>
                      <td>
                        <span className={`badge action-${e.action}`}>{t.actions[e.action] ?? e.action}</span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <nav className="pager" aria-label="pages">
              {sort === null && before !== undefined && <a href={href('log', filter)}>{t.common.newest}</a>}
              {sort === null && page.data.nextCursor !== undefined && (
                <a href={href('log', { ...filter, before: String(page.data.nextCursor) })} rel="next">
                  {t.common.older}
                </a>
              )}
              {sort !== null && after !== undefined && <a href={href('log', { ...filter, ...sortQuery(sort) })}>{t.log.firstPage}</a>}
              {sort !== null && page.data.nextAfter !== undefined && (
                <a href={href('log', { ...filter, ...sortQuery(sort), after: page.data.nextAfter })} rel="next">
                  {t.log.next}
                </a>
              )}
            </nav>
          </>
        )
      )}
    </section>
  );
}
