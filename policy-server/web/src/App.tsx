import { lazy, Suspense, useEffect, useLayoutEffect, useState, type ReactNode } from 'react';
import type { ApiClient, Role, Session } from './api';
import { ErrorMessage, errorText, LanguageSelect } from './components/common';
import { Context } from './context';
import { LANGUAGES, type Language, type Messages } from './messages';
import { AgentsPage } from './pages/Agents';
import { AuditPage } from './pages/Audit';
import { ChangePasswordPage } from './pages/ChangePassword';
import { EventDetailPage } from './pages/EventDetail';
import { ExportLogPage } from './pages/ExportLog';
import { KeysPage } from './pages/Keys';
import { MyRequestsPage, RequestsPage } from './pages/Requests';
import { SignInPage } from './pages/SignIn';
import { ZonesPage } from './pages/Zones';
import { href, useRoute, type Route } from './route';

const LANGUAGE_KEY = 'exitseal.console.language';
// The charting library is only needed on the dashboard: load it with that page, not with every page.
const DashboardPage = lazy(() => import('./pages/Dashboard').then((m) => ({ default: m.DashboardPage })));

function initialLanguage(): Language {
  const stored = window.localStorage.getItem(LANGUAGE_KEY);
  return stored === 'en' || stored === 'ja' ? stored : 'ja';
}

interface PageEntry {
  readonly path: string;
  readonly label: (t: Messages) => string;
  /** Only to decide what the navigation offers: the server checks the role on every call. */
  readonly roles: readonly Role[];
  readonly render: (route: Route) => ReactNode;
  /** Reached from the header instead of the navigation. */
  readonly hiddenFromNav?: boolean;
}

const PAGES: readonly PageEntry[] = [
  { path: 'dashboard', label: (t) => t.nav.dashboard, roles: ['admin', 'auditor'], render: () => <DashboardPage /> },
  {
    path: 'log',
    label: (t) => t.nav.log,
    roles: ['admin', 'auditor'],
    render: (route) => (route.parts[1] !== undefined ? <EventDetailPage seq={Number(route.parts[1])} /> : <ExportLogPage query={route.query} />),
  },
  { path: 'requests', label: (t) => t.nav.requests, roles: ['approver', 'admin', 'auditor'], render: (route) => <RequestsPage tab={route.query.tab} /> },
  { path: 'my-requests', label: (t) => t.nav.myRequests, roles: ['staff'], render: () => <MyRequestsPage /> },
  { path: 'zones', label: (t) => t.nav.zones, roles: ['admin', 'auditor', 'approver'], render: (route) => <ZonesPage editing={route.parts[1]} /> },
  { path: 'agents', label: (t) => t.nav.agents, roles: ['admin', 'auditor'], render: () => <AgentsPage /> },
  { path: 'keys', label: (t) => t.nav.keys, roles: ['admin', 'auditor'], render: () => <KeysPage /> },
  { path: 'audit', label: (t) => t.nav.audit, roles: ['admin', 'auditor'], render: (route) => <AuditPage before={route.query.before} /> },
  { path: 'password', label: (t) => t.password.link, roles: ['staff', 'approver', 'admin', 'auditor'], render: () => <ChangePasswordPage />, hiddenFromNav: true },
];

export function App({ api }: { api: ApiClient }) {
  const [language, setLanguage] = useState<Language>(initialLanguage);
  // Usually already answered: main.tsx checks the session before the first render.
  const [initialSession] = useState(() => api.readySession());
  const [session, setSession] = useState<Session | null | undefined>(initialSession);
  const [bootError, setBootError] = useState<unknown>(undefined);
  const route = useRoute();
  const t = LANGUAGES[language];

  // A layout effect runs in the same task as the render it follows: with a plain effect (run after paint) the
  // page showed its new language for a frame under the old lang attribute, which a screen reader then reads
  // with the wrong voice.
  useLayoutEffect(() => {
    document.documentElement.lang = language;
    document.title = t.appName;
    window.localStorage.setItem(LANGUAGE_KEY, language);
  }, [language, t]);

  useEffect(() => {
    if (initialSession === undefined) api.currentSession().then(setSession, setBootError);
  }, [api, initialSession]);

  const languageSelect = <LanguageSelect language={language} onChange={setLanguage} label={t.language} />;

  if (session === undefined) {
    return <main className="centered">{bootError === undefined ? <p aria-busy="true">{t.common.loading}</p> : <p role="alert">{errorText(bootError, t)}</p>}</main>;
  }
  if (session === null) {
    return <SignInPage api={api} t={t} languageSelect={languageSelect} onSignedIn={setSession} />;
  }

  const allowed = PAGES.filter((p) => p.roles.includes(session.role));
  const current = allowed.find((p) => p.path === route.parts[0]) ?? allowed.find((p) => p.hiddenFromNav !== true);

  const signOut = () => {
    api.signOut().then(
      () => setSession(null),
      () => setSession(null),
    );
  };

  return (
    <Context.Provider value={{ api, session, t, language }}>
      <button type="button" className="skip" onClick={() => document.getElementById('main')?.focus()}>
        {t.skip}
      </button>
      <header className="top">
        <span className="brand">{t.appName}</span>
        <nav aria-label="main">
          <ul>
            {allowed
              .filter((p) => p.hiddenFromNav !== true)
              .map((p) => (
              <li key={p.path}>
                <a href={href(p.path)} aria-current={p === current ? 'page' : undefined}>
                  {p.label(t)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span data-testid="who">
            {session.username}（{t.roles[session.role] ?? session.role}）
          </span>
          <a href={href('password')} aria-current={current?.path === 'password' ? 'page' : undefined}>
            {t.password.link}
          </a>
          {languageSelect}
          <button type="button" onClick={signOut}>
            {t.signOut}
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p aria-busy="true">{t.common.loading}</p>}>{current === undefined ? <ErrorMessage error={new Error(t.common.forbidden)} /> : current.render(route)}</Suspense>
      </main>
    </Context.Provider>
  );
}
