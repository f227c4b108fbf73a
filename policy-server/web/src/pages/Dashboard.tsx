import { useMemo } from 'react';
import { ErrorMessage, Loading, useLoad } from '../components/common';
import { LineChart, type Series } from '../components/LineChart';
import { useConsole } from '../context';
import { formatTime } from '../format';
import { href } from '../route';
import type { Dashboard, Ranked } from '../types';

/** The four outcomes the issue asks to chart; the rarer actions are summed into "other". */
const CHARTED_ACTIONS = ['sealed', 'released-plaintext', 'blocked', 'failed'] as const;

function seriesOf(days: Dashboard['days'], pick: (day: Dashboard['days'][number]) => Record<string, number>, keys: readonly string[], label: (key: string) => string): Series[] {
  return keys.map((key) => ({ label: label(key), values: days.map((d) => pick(d)[key] ?? 0) }));
}

function RankTable({ title, rows, countLabel }: { title: string; rows: readonly Ranked[]; countLabel: string }) {
  return (
    <table className="rank">
      <caption>{title}</caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">{title}</th>
          <th scope="col">{countLabel}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={r.key}>
            <td>{i + 1}</td>
            <td>{r.key}</td>
            <td className="num">{r.count.toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DashboardPage() {
  const { api, t, language } = useConsole();
  const data = useLoad(() => api.get<Dashboard>('/api/v1/console/dashboard'), [api]);
  const d = data.data;
  const charts = useMemo(() => {
    if (d === undefined) return null;
    const zones = [...new Set(d.days.flatMap((day) => Object.keys(day.byZone)))].sort();
    const other = d.days.map((day) => Object.entries(day.byAction).reduce((sum, [action, n]) => sum + ((CHARTED_ACTIONS as readonly string[]).includes(action) ? 0 : n), 0));
    return {
      days: d.days.map((day) => day.day),
      byAction: [...seriesOf(d.days, (day) => day.byAction, CHARTED_ACTIONS, (a) => t.actions[a] ?? a), { label: t.dashboard.other, values: other }],
      byZone: seriesOf(d.days, (day) => day.byZone, zones, (z) => z),
    };
  }, [d, t, language]);

  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">{t.dashboard.title}</h1>
      <ErrorMessage error={data.error} />
      {data.loading && d === undefined && <Loading />}
      {d !== undefined && charts !== null && (
        <>
          <p className="muted">{formatTime(d.generatedAt, language)}</p>
          <div className="tiles">
            <a className="tile" href={href('agents')}>
              <span className="big">{d.agents.online}</span> {t.dashboard.online}
            </a>
            <a className="tile" href={href('agents')}>
              <span className="big">{d.agents.offline}</span> {t.dashboard.offline}
            </a>
            <a className="tile" href={href('requests', { tab: 'pending' })}>
              <span className="big" data-testid="pending-count">
                {d.pendingRequests}
              </span>{' '}
              {t.dashboard.pending}
            </a>
            <a className="tile" href={href('log')}>
              <span className="big">{d.eventsInWindow.toLocaleString()}</span> {t.dashboard.events}
            </a>
          </div>
          <div className="charts">
            <LineChart title={t.dashboard.byAction} days={charts.days} series={charts.byAction} dayLabel={t.dashboard.day} tableLabel={t.dashboard.dataTable} />
            <LineChart title={t.dashboard.byZone} days={charts.days} series={charts.byZone} dayLabel={t.dashboard.day} tableLabel={t.dashboard.dataTable} />
          </div>
          <div className="ranks">
            <RankTable title={t.dashboard.topUsers} rows={d.topUsers} countLabel={t.dashboard.count} />
            <RankTable title={t.dashboard.topDevices} rows={d.topDevices} countLabel={t.dashboard.count} />
          </div>
        </>
      )}
    </section>
  );
}
