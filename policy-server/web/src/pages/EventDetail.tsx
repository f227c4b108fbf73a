import { ErrorMessage, Loading, useLoad } from '../components/common';
import { useConsole } from '../context';
import { formatTime } from '../format';
import type { Messages } from '../messages';
import type { EventDetail, EventRow, LinkCheck } from '../types';

const TIME_FIELDS = new Set(['occurredAt', 'receivedAt']);

function checkText(check: LinkCheck, t: Messages): string {
  switch (check) {
    case 'ok':
      return t.detail.ok;
    case 'broken':
      return t.detail.broken;
    case 'missing':
      return t.detail.missing;
    default:
      return t.detail.noneYet;
  }
}

export function EventDetailPage({ seq }: { seq: number }) {
  const { api, t, language } = useConsole();
  const detail = useLoad(() => api.get<EventDetail>(`/api/v1/console/events/${seq}`), [api, seq]);

  const value = (key: keyof EventRow, row: EventRow): string => {
    const v = row[key];
    if (v === null) return '—';
    if (typeof v === 'boolean') return v ? t.common.yes : t.common.no;
    if (TIME_FIELDS.has(key)) return `${formatTime(String(v), language)}  (${String(v)})`;
    if (key === 'action') return `${t.actions[String(v)] ?? String(v)} (${String(v)})`;
    if (key === 'channel') return `${t.channels[String(v)] ?? String(v)} (${String(v)})`;
    return String(v);
  };

  return (
    <section aria-labelledby="detail-title">
      <p>
        <a href="#/log" onClick={(e) => {
          if (window.history.length > 1) {
            e.preventDefault();
            window.history.back();
          }
        }}>
          ← {t.common.back}
        </a>
      </p>
      <h1 id="detail-title">{t.detail.title(seq)}</h1>
      <ErrorMessage error={detail.error} />
      {detail.loading && <Loading />}
      {detail.data !== undefined && (
        <>
          <h2>{t.detail.chain}</h2>
          <dl className="chain" data-testid="chain">
            <dt>{t.detail.row}</dt>
            <dd className={`check-${detail.data.chain.row}`}>{checkText(detail.data.chain.row, t)}</dd>
            <dt>{t.detail.next}</dt>
            <dd className={`check-${detail.data.chain.next}`}>{checkText(detail.data.chain.next, t)}</dd>
            <dt>{t.detail.agentChain}</dt>
            <dd className={detail.data.chain.agentChainOk ? 'check-ok' : 'check-broken'}>{detail.data.chain.agentChainOk ? t.detail.ok : t.detail.broken}</dd>
          </dl>
          <dl className="fields" data-testid="fields">
            {(Object.keys(detail.data.event) as (keyof EventRow)[]).map((key) => (
              <div key={key}>
                <dt>{t.detail.fields[key] ?? key}</dt>
                <dd data-field={key}>{value(key, detail.data!.event)}</dd>
              </div>
            ))}
          </dl>
        </>
      )}
    </section>
  );
}
