import { useState } from 'react';
import type { Role } from '../api';
import { ErrorMessage, errorText, Loading, useLoad } from '../components/common';
import { useConsole } from '../context';
import { formatSize, formatTime } from '../format';
import { href } from '../route';
import type { RequestView } from '../types';

type Tab = 'mine' | 'pending' | 'history';

/** The role that decides the request's next step, or null once decided. */
function nextRole(request: RequestView): Role | null {
  return request.status === 'pending' ? (request.steps[request.decisions.length] ?? null) : null;
}

function Steps({ request }: { request: RequestView }) {
  const { t, language } = useConsole();
  return (
    <ol className="steps" aria-label={t.requests.steps}>
      {request.steps.map((role, index) => {
        const decision = request.decisions[index];
        return (
          <li key={index} className={decision === undefined ? 'waiting' : decision.decision}>
            {t.requests.step(index + 1, request.steps.length)}: {t.roles[role] ?? role} —{' '}
            {decision === undefined ? (
              t.requests.waiting
            ) : (
              <>
                {decision.decision === 'approve' ? t.requests.approve : t.requests.deny}: {t.requests.decidedBy(decision.username, formatTime(decision.at, language))} 「{decision.reason}」
              </>
            )}
          </li>
        );
      })}
    </ol>
  );
}

function RequestCard({ request, canDecide, onDecided }: { request: RequestView; canDecide: boolean; onDecided: () => void }) {
  const { api, t, language } = useConsole();
  const [reason, setReason] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const detail = request.detail;
  const size = typeof detail.size === 'number' ? detail.size : undefined;
  const sha256 = typeof detail.sha256 === 'string' ? detail.sha256 : undefined;
  const destination = typeof detail.destination === 'string' ? detail.destination : undefined;
  const purpose = typeof detail.purpose === 'string' ? detail.purpose : undefined;
  const reasonId = `reason-${request.id}`;

  const decide = (decision: 'approve' | 'deny') => {
    if (reason.trim() === '') {
      setProblem(t.requests.reasonRequired);
      return;
    }
    setBusy(true);
    setProblem(null);
    api.post(`/api/v1/requests/${request.id}/decision`, { decision, reason: reason.trim() }).then(
      () => {
        setBusy(false);
        setReason('');
        onDecided();
      },
      (error: unknown) => {
        setBusy(false);
        setProblem(errorText(error, t));
      },
    );
  };

  return (
    <article className="card request" data-request-id={request.id} aria-label={request.fileName}>
      <header>
        <span className={`badge status-${request.status}`} data-testid="status">
          {t.requests.status[request.status] ?? request.status}
        </span>{' '}
        <strong>{t.requests.kind[request.kind] ?? request.kind}</strong>: {request.fileName}
      </header>
      <dl className="request-fields">
        <dt>{t.requests.who}</dt>
        <dd>
          {request.osUser} <span className="muted">({request.agentId.slice(0, 8)})</span>
        </dd>
        {size !== undefined && (
          <>
            <dt>{t.requests.size}</dt>
            <dd>
              {formatSize(size)} ({size.toLocaleString()} B)
            </dd>
          </>
        )}
        {sha256 !== undefined && (
          <>
            <dt>{t.requests.hash}</dt>
            <dd className="mono">{sha256}</dd>
          </>
        )}
        <dt>{t.requests.reason}</dt>
        <dd>{request.reason}</dd>
        {destination !== undefined && (
          <>
            <dt>{t.requests.destination}</dt>
            <dd>{destination}</dd>
          </>
        )}
        {purpose !== undefined && (
          <>
            <dt>{t.requests.purpose}</dt>
            <dd>{purpose}</dd>
          </>
        )}
        <dt>{t.requests.requestedAt}</dt>
        <dd>{formatTime(request.createdAt, language)}</dd>
      </dl>
      <Steps request={request} />
      {canDecide && (
        <div className="decide">
          <label htmlFor={reasonId}>{t.requests.decisionReason}</label>
          <textarea id={reasonId} value={reason} onChange={(e) => setReason(e.target.value)} rows={2} maxLength={2048} required />
          <div className="buttons">
            <button type="button" className="approve" disabled={busy} onClick={() => decide('approve')}>
              {t.requests.approve}
            </button>
            <button type="button" className="deny" disabled={busy} onClick={() => decide('deny')}>
              {t.requests.deny}
            </button>
          </div>
        </div>
      )}
      {problem !== null && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
    </article>
  );
}

function RequestList({ requests, canDecide, onDecided }: { requests: readonly RequestView[]; canDecide: (r: RequestView) => boolean; onDecided: () => void }) {
  const { t } = useConsole();
  if (requests.length === 0) return <p>{t.requests.empty}</p>;
  return (
    <div className="requests">
      {requests.map((r) => (
        <RequestCard key={r.id} request={r} canDecide={canDecide(r)} onDecided={onDecided} />
      ))}
    </div>
  );
}

export function RequestsPage({ tab }: { tab: string | undefined }) {
  const { api, session, t } = useConsole();
  const [notice, setNotice] = useState<string | null>(null);
  const decides = session.role === 'approver' || session.role === 'admin';
  const current: Tab = tab === 'pending' || tab === 'history' ? tab : decides ? 'mine' : 'pending';
  const data = useLoad(async () => {
    if (current === 'history') {
      const [approved, denied] = await Promise.all([
        api.get<{ requests: RequestView[] }>('/api/v1/requests', { status: 'approved', limit: '200' }),
        api.get<{ requests: RequestView[] }>('/api/v1/requests', { status: 'denied', limit: '200' }),
      ]);
      return [...approved.requests, ...denied.requests].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    }
    const pending = (await api.get<{ requests: RequestView[] }>('/api/v1/requests', { status: 'pending', limit: '500' })).requests;
    return current === 'mine' ? pending.filter((r) => nextRole(r) === session.role) : pending;
  }, [api, current, session.role]);

  const tabs: [Tab, string][] = [...(decides ? ([['mine', t.requests.myQueue]] as [Tab, string][]) : []), ['pending', t.requests.allPending], ['history', t.requests.history]];

  return (
    <section aria-labelledby="requests-title">
      <h1 id="requests-title">{t.requests.title}</h1>
      <nav className="tabs" aria-label={t.requests.title}>
        {tabs.map(([key, label]) => (
          <a key={key} href={href('requests', { tab: key })} aria-current={key === current ? 'page' : undefined}>
            {label}
          </a>
        ))}
      </nav>
      {notice !== null && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorMessage error={data.error} />
      {data.loading && data.data === undefined && <Loading />}
      {data.data !== undefined && (
        <RequestList
          requests={data.data}
          canDecide={(r) => decides && nextRole(r) === session.role}
          onDecided={() => {
            setNotice(t.requests.decided);
            data.reload();
          }}
        />
      )}
    </section>
  );
}

/** Staff: only the requests they raised themselves. */
export function MyRequestsPage() {
  const { api, t } = useConsole();
  const data = useLoad(() => api.get<{ requests: RequestView[] }>('/api/v1/console/my-requests'), [api]);
  return (
    <section aria-labelledby="mine-title">
      <h1 id="mine-title">{t.requests.mine}</h1>
      <ErrorMessage error={data.error} />
      {data.loading && <Loading />}
      {data.data !== undefined && <RequestList requests={data.data.requests} canDecide={() => false} onDecided={() => undefined} />}
    </section>
  );
}
