import { useState, type FormEvent } from 'react';
import { ErrorMessage, errorText, Loading, useLoad } from '../components/common';
import { useConsole } from '../context';
import { formatTime } from '../format';
import type { ZonesResponse } from '../types';

export function KeysPage() {
  const { api, session, t, language } = useConsole();
  const data = useLoad(() => api.get<ZonesResponse>('/api/v1/zones'), [api]);
  const [problem, setProblem] = useState<string | null>(null);
  const [recipient, setRecipient] = useState<string | null>(null);
  const isAdmin = session.role === 'admin';

  const rotate = (zoneId: string) => {
    if (!window.confirm(t.keys.confirmRotate(zoneId))) return;
    setProblem(null);
    api.post(`/api/v1/zones/${zoneId}/keys`).then(data.reload, (error: unknown) => setProblem(errorText(error, t)));
  };
  const saveRecipient = (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    const value = (recipient ?? '').trim();
    api.put('/api/v1/recovery-recipient', { recipient: value === '' ? null : value }).then(() => {
      setRecipient(null);
      data.reload();
    }, (error: unknown) => setProblem(errorText(error, t)));
  };

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">{t.keys.title}</h1>
      <ErrorMessage error={data.error} />
      {problem !== null && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      {data.loading && data.data === undefined && <Loading />}
      {data.data !== undefined && (
        <>
          <form className="card" onSubmit={saveRecipient}>
            <label htmlFor="recovery">{t.keys.recovery}</label>
            <div className="row">
              <input
                id="recovery"
                className="mono wide"
                readOnly={!isAdmin}
                placeholder={t.keys.recoveryNone}
                value={recipient ?? data.data.recoveryRecipient ?? ''}
                onChange={(e) => setRecipient(e.target.value)}
              />
              {isAdmin && <button type="submit">{t.keys.setRecovery}</button>}
            </div>
          </form>
          {data.data.zones.map(({ zone }) => {
            const keys = data.data!.keys.filter((k) => k.zoneId === zone.id);
            return (
              <div key={zone.id} className="card">
                <h2>
                  {zone.name} ({zone.id})
                </h2>
                <table>
                  <thead>
                    <tr>
                      <th scope="col">{t.keys.version}</th>
                      <th scope="col">{t.keys.recipient}</th>
                      <th scope="col">{t.keys.created}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {keys.map((k, i) => (
                      <tr key={k.version}>
                        <td>
                          {k.version}
                          {i === 0 ? ` (${t.keys.current})` : ''}
                        </td>
                        <td className="mono">{k.recipient}</td>
                        <td>{formatTime(k.createdAt, language)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                {isAdmin && (
                  <button type="button" onClick={() => rotate(zone.id)}>
                    {t.keys.rotate}
                  </button>
                )}
              </div>
            );
          })}
        </>
      )}
    </section>
  );
}
