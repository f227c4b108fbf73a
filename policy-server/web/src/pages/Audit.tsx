import { ErrorMessage, Loading, useLoad } from '../components/common';
import { useConsole } from '../context';
import { formatTime } from '../format';
import { href } from '../route';
import type { AuditRow } from '../types';

const PAGE_SIZE = 50;

export function AuditPage({ before }: { before: string | undefined }) {
  const { api, t, language } = useConsole();
  const data = useLoad(() => api.get<{ entries: AuditRow[] }>('/api/v1/audit', { before, limit: String(PAGE_SIZE) }), [api, before]);
  const entries = data.data?.entries ?? [];
  const last = entries[entries.length - 1];
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">{t.audit.title}</h1>
      <ErrorMessage error={data.error} />
      {data.loading && data.data === undefined && <Loading />}
      {data.data !== undefined && (
        <>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t.audit.at}</th>
                  <th scope="col">{t.audit.actor}</th>
                  <th scope="col">{t.audit.action}</th>
                  <th scope="col">{t.audit.target}</th>
                  <th scope="col">{t.audit.detail}</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((e) => (
                  <tr key={e.seq}>
                    <td>{formatTime(e.at, language)}</td>
                    <td>{e.actor}</td>
                    <td>{e.action}</td>
                    <td className="mono">{e.target}</td>
                    <td className="mono small">{e.detail === '{}' ? '' : e.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav className="pager" aria-label="pages">
            {before !== undefined && <a href={href('audit')}>{t.common.newest}</a>}
            {entries.length === PAGE_SIZE && last !== undefined && (
              <a href={href('audit', { before: String(last.seq) })} rel="next">
                {t.common.older}
              </a>
            )}
          </nav>
        </>
      )}
    </section>
  );
}
