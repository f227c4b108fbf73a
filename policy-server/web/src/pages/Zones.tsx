import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api';
import { ErrorMessage, errorText, Loading, useLoad } from '../components/common';
import { useConsole } from '../context';
import { href, navigate } from '../route';
import type { DeviceRule, ZonesResponse, ZoneWithPolicy } from '../types';
import { CHANNELS } from './ExportLog';

const CHANNEL_ACTIONS = ['seal', 'block', 'allow', 'read-only'];
const OFFLINE_ACTIONS = ['seal-everything', 'block-everything'];
const CHAINS = ['approver', 'approver,admin', 'admin', 'admin,approver'];

interface Problem {
  readonly path: string;
  readonly message: string;
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function deviceText(rules: readonly DeviceRule[]): string {
  return rules.map((r) => [r.vendorId, r.productId ?? '', r.serial ?? ''].join(':').replace(/:+$/, '')).join('\n');
}

function parseDevices(text: string): DeviceRule[] {
  return lines(text).map((line) => {
    const [vendorId = '', productId, ...serial] = line.split(':');
    return { vendorId, ...(productId ? { productId } : {}), ...(serial.length > 0 && serial.join(':') !== '' ? { serial: serial.join(':') } : {}) };
  });
}

function newZone(priority: number): ZoneWithPolicy {
  return {
    zone: { id: '', name: '', priority, fallback: false, detection: { cidrs: [], dnsSuffixes: [], gateways: [] } },
    policy: {
      channels: { removableMedia: 'seal', outboundFolders: 'seal', mail: 'seal' },
      openableOrigins: [],
      devices: { allow: [], deny: [] },
      offline: { maxHours: 72, after: 'seal-everything' },
      approvals: { decrypt: { steps: ['approver', 'admin'] }, release: { steps: ['approver', 'admin'] } },
    },
  };
}

/** The problems the server reported for one field (paths like "/zones/lgwan/policy/offline/maxHours"). */
function problemsAt(problems: readonly Problem[], zoneId: string, prefix: string): Problem[] {
  return problems.filter((p) => p.path.replace(`/zones/${zoneId}`, '').startsWith(prefix));
}

function Field({ id, label, problems, children }: { id: string; label: string; problems: readonly Problem[]; children: ReactNode }) {
  return (
    <div className={`field${problems.length > 0 ? ' invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {problems.map((p) => (
        <p key={`${p.path}-${p.message}`} className="error field-error" id={`${id}-error`} role="alert">
          {p.message}
        </p>
      ))}
    </div>
  );
}

function ZoneEditor({ initial, all, isNew, onSaved }: { initial: ZoneWithPolicy; all: readonly ZoneWithPolicy[]; isNew: boolean; onSaved: () => void }) {
  const { api, t } = useConsole();
  const [entry, setEntry] = useState<ZoneWithPolicy>(initial);
  const [text, setText] = useState({
    cidrs: initial.zone.detection.cidrs.join('\n'),
    dnsSuffixes: initial.zone.detection.dnsSuffixes.join('\n'),
    gateways: initial.zone.detection.gateways.join('\n'),
    allow: deviceText(initial.policy.devices.allow),
    deny: deviceText(initial.policy.devices.deny),
  });
  const [problems, setProblems] = useState<Problem[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const id = entry.zone.id;
  const at = (prefix: string) => problemsAt(problems, id, prefix);
  const zone = (patch: Partial<ZoneWithPolicy['zone']>) => setEntry({ ...entry, zone: { ...entry.zone, ...patch } });
  const policy = (patch: Partial<ZoneWithPolicy['policy']>) => setEntry({ ...entry, policy: { ...entry.policy, ...patch } });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setProblems([]);
    setFailure(null);
    setSaved(false);
    const body: ZoneWithPolicy = {
      zone: { ...entry.zone, detection: { cidrs: lines(text.cidrs), dnsSuffixes: lines(text.dnsSuffixes), gateways: lines(text.gateways) } },
      policy: { ...entry.policy, devices: { allow: parseDevices(text.allow), deny: parseDevices(text.deny) } },
    };
    api.put(`/api/v1/zones/${encodeURIComponent(body.zone.id)}`, body).then(
      () => {
        setSaved(true);
        onSaved();
      },
      (error: unknown) => {
        if (error instanceof ApiError && error.problems.length > 0) setProblems([...error.problems]);
        setFailure(errorText(error, t));
      },
    );
  };
  const claimed = new Set(['/zone/name', '/zone/priority', '/zone/detection', '/policy/channels', '/policy/openableOrigins', '/policy/devices', '/policy/offline', '/policy/approvals']);
  const unplaced = problems.filter((p) => ![...claimed].some((prefix) => p.path.replace(`/zones/${id}`, '').startsWith(prefix)));

  return (
    <form className="card zone-editor" onSubmit={submit} aria-labelledby="zone-editor-title" noValidate>
      <h2 id="zone-editor-title">
        {t.zones.edit}: {isNew ? t.zones.add : `${initial.zone.name} (${initial.zone.id})`}
      </h2>
      {failure !== null && (
        <div className="error" role="alert">
          <p>{problems.length > 0 ? t.zones.problems : failure}</p>
          {unplaced.length > 0 && (
            <ul>
              {unplaced.map((p) => (
                <li key={`${p.path}-${p.message}`}>
                  {p.path}: {p.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {saved && (
        <p className="notice" role="status">
          {t.zones.saved}
        </p>
      )}
      <div className="grid2">
        <Field id="zone-id" label={t.zones.id} problems={at('/zone/id')}>
          <input id="zone-id" value={entry.zone.id} readOnly={!isNew} required pattern="[a-z0-9][a-z0-9_-]{0,62}" onChange={(e) => zone({ id: e.target.value })} />
        </Field>
        <Field id="zone-name" label={t.zones.name} problems={at('/zone/name')}>
          <input id="zone-name" value={entry.zone.name} required onChange={(e) => zone({ name: e.target.value })} />
        </Field>
        <Field id="zone-priority" label={t.zones.priority} problems={at('/zone/priority')}>
          <input id="zone-priority" type="number" value={entry.zone.priority} onChange={(e) => zone({ priority: Number(e.target.value) })} />
        </Field>
        <div className="field">
          <span>{t.zones.fallback}</span> {entry.zone.fallback ? t.common.yes : t.common.no}
        </div>
        <Field id="zone-cidrs" label={t.zones.cidrs} problems={at('/zone/detection')}>
          <textarea id="zone-cidrs" rows={3} value={text.cidrs} onChange={(e) => setText({ ...text, cidrs: e.target.value })} />
        </Field>
        <Field id="zone-dns" label={t.zones.dnsSuffixes} problems={[]}>
          <textarea id="zone-dns" rows={3} value={text.dnsSuffixes} onChange={(e) => setText({ ...text, dnsSuffixes: e.target.value })} />
        </Field>
        <Field id="zone-gateways" label={t.zones.gateways} problems={[]}>
          <textarea id="zone-gateways" rows={3} value={text.gateways} onChange={(e) => setText({ ...text, gateways: e.target.value })} />
        </Field>
      </div>
      <fieldset>
        <legend>{t.zones.channels}</legend>
        <div className="grid3">
          {CHANNELS.map((channel) => (
            <Field key={channel} id={`channel-${channel}`} label={t.channels[channel] ?? channel} problems={at(`/policy/channels/${channel}`)}>
              <select id={`channel-${channel}`} value={entry.policy.channels[channel]} onChange={(e) => policy({ channels: { ...entry.policy.channels, [channel]: e.target.value } })}>
                {CHANNEL_ACTIONS.map((a) => (
                  <option key={a} value={a}>
                    {t.channelActions[a] ?? a}
                  </option>
                ))}
              </select>
            </Field>
          ))}
        </div>
      </fieldset>
      <fieldset className={at('/policy/openableOrigins').length > 0 ? 'invalid' : ''}>
        <legend>{t.zones.matrix}</legend>
        {all.map(({ zone: origin }) => (
          <label key={origin.id} className="check">
            <input
              type="checkbox"
              checked={entry.policy.openableOrigins.includes(origin.id)}
              onChange={(e) => policy({ openableOrigins: e.target.checked ? [...entry.policy.openableOrigins, origin.id] : entry.policy.openableOrigins.filter((o) => o !== origin.id) })}
            />{' '}
            {origin.name} ({origin.id})
          </label>
        ))}
        {at('/policy/openableOrigins').map((p) => (
          <p key={`${p.path}-${p.message}`} className="error field-error" role="alert">
            {p.message}
          </p>
        ))}
      </fieldset>
      <div className="grid2">
        <Field id="devices-allow" label={t.zones.devicesAllow} problems={at('/policy/devices/allow')}>
          <textarea id="devices-allow" rows={3} className="mono" value={text.allow} onChange={(e) => setText({ ...text, allow: e.target.value })} />
        </Field>
        <Field id="devices-deny" label={t.zones.devicesDeny} problems={at('/policy/devices/deny')}>
          <textarea id="devices-deny" rows={3} className="mono" value={text.deny} onChange={(e) => setText({ ...text, deny: e.target.value })} />
        </Field>
        <Field id="offline-hours" label={t.zones.offlineHours} problems={at('/policy/offline/maxHours')}>
          <input id="offline-hours" type="number" min={0} max={8760} value={entry.policy.offline.maxHours} onChange={(e) => policy({ offline: { ...entry.policy.offline, maxHours: Number(e.target.value) } })} />
        </Field>
        <Field id="offline-after" label={t.zones.offlineAfter} problems={at('/policy/offline/after')}>
          <select id="offline-after" value={entry.policy.offline.after} onChange={(e) => policy({ offline: { ...entry.policy.offline, after: e.target.value } })}>
            {OFFLINE_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {t.zones.offlineActions[a] ?? a}
              </option>
            ))}
          </select>
        </Field>
        {(['decrypt', 'release'] as const).map((kind) => (
          <Field key={kind} id={`chain-${kind}`} label={kind === 'decrypt' ? t.zones.approvalsDecrypt : t.zones.approvalsRelease} problems={at(`/policy/approvals/${kind}`)}>
            <select
              id={`chain-${kind}`}
              value={entry.policy.approvals[kind].steps.join(',')}
              onChange={(e) => policy({ approvals: { ...entry.policy.approvals, [kind]: { steps: e.target.value.split(',') } } })}
            >
              {CHAINS.map((c) => (
                <option key={c} value={c}>
                  {t.zones.chains[c] ?? c}
                </option>
              ))}
            </select>
          </Field>
        ))}
      </div>
      <div className="buttons">
        <button type="submit">{t.common.save}</button>
        <a className="button secondary" href={href('zones')}>
          {t.common.cancel}
        </a>
      </div>
    </form>
  );
}

function Matrix({ zones }: { zones: readonly ZoneWithPolicy[] }) {
  const { t } = useConsole();
  return (
    <table className="matrix" data-testid="matrix">
      <caption>{t.zones.matrix}</caption>
      <thead>
        <tr>
          <th scope="col">{t.zones.matrixCorner}</th>
          {zones.map(({ zone }) => (
            <th key={zone.id} scope="col">
              {zone.name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {zones.map(({ zone, policy }) => (
          <tr key={zone.id}>
            <th scope="row">{zone.name}</th>
            {zones.map(({ zone: origin }) => {
              const allowed = policy.openableOrigins.includes(origin.id);
              return (
                <td key={origin.id} className={allowed ? 'yes' : 'no'} aria-label={`${zone.name} ← ${origin.name}: ${allowed ? t.common.yes : t.common.no}`}>
                  {allowed ? '○' : '×'}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ZonesPage({ editing }: { editing: string | undefined }) {
  const { api, session, t } = useConsole();
  const data = useLoad(() => api.get<ZonesResponse>('/api/v1/zones'), [api]);
  const isAdmin = session.role === 'admin';
  const zones = [...(data.data?.zones ?? [])].sort((a, b) => a.zone.priority - b.zone.priority);
  const target = editing === 'new' ? newZone(Math.max(0, ...zones.filter((z) => !z.zone.fallback).map((z) => z.zone.priority)) + 1) : zones.find((z) => z.zone.id === editing);

  return (
    <section aria-labelledby="zones-title">
      <h1 id="zones-title">{t.zones.title}</h1>
      {!isAdmin && <p className="muted">{t.zones.readOnly}</p>}
      <ErrorMessage error={data.error} />
      {data.loading && data.data === undefined && <Loading />}
      {data.data !== undefined && (
        <>
          {isAdmin && editing !== undefined && target !== undefined && (
            <ZoneEditor key={editing} initial={target} all={zones} isNew={editing === 'new'} onSaved={() => {
              data.reload();
              if (editing === 'new') navigate('zones');
            }} />
          )}
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t.zones.id}</th>
                  <th scope="col">{t.zones.name}</th>
                  <th scope="col">{t.zones.priority}</th>
                  {CHANNELS.map((c) => (
                    <th key={c} scope="col">
                      {t.channels[c]}
                    </th>
                  ))}
                  <th scope="col">{t.zones.offlineHours}</th>
                  <th scope="col">{t.zones.approvalsRelease}</th>
                  {isAdmin && <th scope="col" />}
                </tr>
              </thead>
              <tbody>
                {zones.map(({ zone, policy }) => (
                  <tr key={zone.id}>
                    <td className="mono">{zone.id}</td>
                    <td>{zone.name}</td>
                    <td className="num">{zone.priority}</td>
                    {CHANNELS.map((c) => (
                      <td key={c}>{t.channelActions[policy.channels[c]] ?? policy.channels[c]}</td>
                    ))}
                    <td className="num">{policy.offline.maxHours}</td>
                    <td>{t.zones.chains[policy.approvals.release.steps.join(',')] ?? policy.approvals.release.steps.join(' → ')}</td>
                    {isAdmin && (
                      <td>
                        <a href={href(`zones/${zone.id}`)}>{t.zones.edit}</a>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {isAdmin && (
            <p>
              <a className="button" href={href('zones/new')}>
                {t.zones.add}
              </a>
            </p>
          )}
          <Matrix zones={zones} />
        </>
      )}
    </section>
  );
}
