import { useState, type FormEvent } from 'react';
import { ErrorMessage, errorText, Loading, useLoad } from '../components/common';
import { useConsole } from '../context';
import { formatTime } from '../format';
import type { AgentStatus, ZonesResponse } from '../types';

/** Where the agent's configuration file is usually put on a Windows PC; the administrator can change it. */
const DEFAULT_AGENT_CONFIG = 'C:\\ProgramData\\ExitSeal\\agent.json';

/**
 * What an administrator pastes on the PC being installed: the agent's own enrol command, pinning this server's
 * CA by fingerprint. The token goes as --token=T because a token may start with "-". A path with spaces is quoted.
 */
export function installCommand(configPath: string, serverOrigin: string, token: string, caFingerprint: string): string {
  const config = /\s/.test(configPath) ? `"${configPath}"` : configPath;
  return `exitseal-agent enrol --config ${config} --server ${serverOrigin} --token=${token} --ca-fingerprint ${caFingerprint}`;
}

function EnrolmentTokenForm() {
  const { api, t, language } = useConsole();
  const zones = useLoad(() => api.get<ZonesResponse>('/api/v1/zones'), [api]);
  const [zoneId, setZoneId] = useState('');
  const [hours, setHours] = useState('24');
  const [created, setCreated] = useState<{ token: string; expiresAt: string; caFingerprint: string } | null>(null);
  const [configPath, setConfigPath] = useState(DEFAULT_AGENT_CONFIG);
  const [problem, setProblem] = useState<string | null>(null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setProblem(null);
    setCreated(null);
    api.post<{ token: string; expiresAt: string; caFingerprint: string }>('/api/v1/enrolment-tokens', { ...(zoneId === '' ? {} : { zoneId }), validHours: Number(hours) }).then(setCreated, (error: unknown) => setProblem(errorText(error, t)));
  };

  return (
    <form className="card" onSubmit={submit} aria-labelledby="enrol-title">
      <h2 id="enrol-title">{t.agents.enrol}</h2>
      <div className="row">
        <div>
          <label htmlFor="enrol-zone">{t.agents.zone}</label>
          <select id="enrol-zone" value={zoneId} onChange={(e) => setZoneId(e.target.value)}>
            <option value="">—</option>
            {(zones.data?.zones ?? [])
              .filter((z) => !z.zone.fallback)
              .map((z) => (
                <option key={z.zone.id} value={z.zone.id}>
                  {z.zone.name} ({z.zone.id})
                </option>
              ))}
          </select>
        </div>
        <div>
          <label htmlFor="enrol-hours">{t.agents.hours}</label>
          <input id="enrol-hours" type="number" min={1} max={8760} required value={hours} onChange={(e) => setHours(e.target.value)} />
        </div>
        <div className="buttons">
          <button type="submit">{t.agents.create}</button>
        </div>
      </div>
      {problem !== null && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      {created !== null && (
        <div className="token" role="status">
          <p>{t.agents.tokenOnce}</p>
          <p>
            {t.agents.expires}: {formatTime(created.expiresAt, language)}
          </p>
          <label htmlFor="agent-config">{t.agents.configPath}</label>
          <input id="agent-config" className="mono" value={configPath} onChange={(e) => setConfigPath(e.target.value)} />
          <label htmlFor="install-command">{t.agents.command}</label>
          <input
            id="install-command"
            readOnly
            className="mono"
            value={installCommand(configPath, window.location.origin, created.token, created.caFingerprint)}
            onFocus={(e) => e.target.select()}
          />
          <p>
            {t.agents.caFingerprint}: <code data-testid="ca-fingerprint">{created.caFingerprint}</code>
          </p>
        </div>
      )}
    </form>
  );
}

/** The backlog cell: the three counts, when they were reported, and a worded mark (not only a colour) when large or stale. */
function BacklogCell({ agent }: { agent: AgentStatus }) {
  const { t, language } = useConsole();
  const b = agent.backlog;
  return (
    <td data-testid="backlog">
      {b === null ? (
        <span className="note">{t.agents.backlogNone}</span>
      ) : (
        <>
          <span>{t.agents.backlogCounts(b.outboxEvents, b.pendingJobs, b.quarantinedFiles)}</span>{' '}
          <span className="note">{t.agents.backlogAsOf(formatTime(b.reportedAt, language))}</span>
        </>
      )}
      {agent.backlogLarge && (
        <>
          {' '}
          <span className="badge backlog-mark-large">{t.agents.backlogLarge}</span>
        </>
      )}
      {agent.backlogStale && (
        <>
          {' '}
          <span className="badge backlog-mark-stale">{t.agents.backlogStale}</span>
        </>
      )}
    </td>
  );
}

export function AgentsPage() {
  const { api, session, t, language } = useConsole();
  const data = useLoad(() => api.get<{ agents: AgentStatus[] }>('/api/v1/console/agents'), [api]);
  const [problem, setProblem] = useState<string | null>(null);
  const isAdmin = session.role === 'admin';

  const revoke = (agent: AgentStatus) => {
    if (!window.confirm(t.agents.confirmRevoke(agent.hostname))) return;
    setProblem(null);
    api.post(`/api/v1/agents/${agent.id}/revoke`).then(data.reload, (error: unknown) => setProblem(errorText(error, t)));
  };

  return (
    <section aria-labelledby="agents-title">
      <h1 id="agents-title">{t.agents.title}</h1>
      {isAdmin && <EnrolmentTokenForm />}
      <ErrorMessage error={data.error} />
      {problem !== null && (
        <p className="error" role="alert">
          {problem}
        </p>
      )}
      {data.loading && data.data === undefined && <Loading />}
      {data.data !== undefined && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t.agents.host}</th>
                <th scope="col">{t.agents.os}</th>
                <th scope="col">{t.agents.version}</th>
                <th scope="col">{t.agents.zone}</th>
                <th scope="col">{t.agents.lastSeen}</th>
                <th scope="col">{t.agents.policy}</th>
                <th scope="col">{t.agents.backlog}</th>
                <th scope="col">{t.agents.state}</th>
                {isAdmin && <th scope="col" />}
              </tr>
            </thead>
            <tbody>
              {data.data.agents.map((a) => (
                <tr key={a.id} data-agent={a.hostname}>
                  <td>{a.hostname}</td>
                  <td>{a.osName}</td>
                  <td>{a.agentVersion}</td>
                  <td>{a.zoneId}</td>
                  <td>{formatTime(a.lastSeenAt, language)}</td>
                  <td>{a.policyCurrent ? t.agents.policyCurrent : t.agents.policyOld(a.lastBundleRevision)}</td>
                  <BacklogCell agent={a} />
                  <td>
                    <span className={`badge state-${a.revokedAt !== null ? 'revoked' : a.online ? 'online' : 'offline'}`}>
                      {a.revokedAt !== null ? t.agents.revoked : a.online ? t.agents.online : t.agents.offline}
                    </span>
                  </td>
                  {isAdmin && (
                    <td>
                      {a.revokedAt === null && (
                        <button type="button" className="deny" onClick={() => revoke(a)}>
                          {t.agents.revoke}
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
