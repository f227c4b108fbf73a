import { useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, type ApiClient, type Session } from '../api';
import type { Messages } from '../messages';

export function SignInPage({ api, t, languageSelect, onSignedIn }: { api: ApiClient; t: Messages; languageSelect: ReactNode; onSignedIn: (session: Session) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setMessage(null);
    api.signIn(username, password).then(
      (session) => {
        setPassword('');
        onSignedIn(session);
      },
      (error: unknown) => {
        setBusy(false);
        if (error instanceof ApiError && error.status === 429) setMessage(t.signIn.rateLimited);
        else if (error instanceof ApiError && (error.status === 401 || error.status === 400)) setMessage(t.signIn.wrong);
        else setMessage(error instanceof Error ? error.message : String(error));
      },
    );
  };

  return (
    <main className="centered">
      <form className="card signin" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">{t.appName}</h1>
        <h2>{t.signIn.title}</h2>
        <label htmlFor="username">{t.signIn.username}</label>
        <input id="username" name="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
        <label htmlFor="password">{t.signIn.password}</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        {message !== null && (
          <p className="error" role="alert">
            {message}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t.signIn.submit}
        </button>
        <div className="signin-language">{languageSelect}</div>
      </form>
    </main>
  );
}
