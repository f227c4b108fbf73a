import { useState, type FormEvent } from 'react';
import { ApiError } from '../api';
import { errorText } from '../components/common';
import { useConsole } from '../context';
import type { Messages } from '../messages';

const MIN_LENGTH = 12;

/** The server's refusal in the words of the page (the server checks everything again; this only explains). */
function refusalText(error: unknown, t: Messages): string {
  if (error instanceof ApiError) {
    const known: Record<string, string> = {
      PASSWORD_TOO_SHORT: t.password.tooShort,
      PASSWORD_IS_USERNAME: t.password.isUsername,
      PASSWORD_UNCHANGED: t.password.unchanged,
      CURRENT_PASSWORD_WRONG: t.password.wrongCurrent,
      LOGIN_RATE_LIMITED: t.password.rateLimited,
    };
    const text = known[error.code];
    if (text !== undefined) return text;
  }
  return errorText(error, t);
}

export function ChangePasswordPage() {
  const { api, session, t } = useConsole();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setDone(false);
    if (next !== confirm) return setProblem(t.password.mismatch);
    if (next.length < MIN_LENGTH) return setProblem(t.password.tooShort);
    if (next.toLowerCase() === session.username.toLowerCase()) return setProblem(t.password.isUsername);
    setProblem(null);
    setBusy(true);
    api.post<void>('/api/v1/session/password', { currentPassword: current, newPassword: next }).then(
      () => {
        setBusy(false);
        setCurrent('');
        setNext('');
        setConfirm('');
        setDone(true);
      },
      (error: unknown) => {
        setBusy(false);
        setProblem(refusalText(error, t));
      },
    );
  };

  return (
    <section aria-labelledby="password-title">
      <h1 id="password-title">{t.password.title}</h1>
      <form className="card password-form" onSubmit={submit}>
        <p id="password-rule">{t.password.rule}</p>
        <label htmlFor="current-password">{t.password.current}</label>
        <input id="current-password" type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
        <label htmlFor="new-password">{t.password.next}</label>
        <input
          id="new-password"
          type="password"
          autoComplete="new-password"
          required
          minLength={MIN_LENGTH}
          aria-describedby="password-rule"
          value={next}
          onChange={(e) => setNext(e.target.value)}
        />
        <label htmlFor="confirm-password">{t.password.confirm}</label>
        <input id="confirm-password" type="password" autoComplete="new-password" required value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        {problem !== null && (
          <p className="error" role="alert">
            {problem}
          </p>
        )}
        {done && (
          <p className="ok" role="status">
            {t.password.done}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t.password.submit}
        </button>
      </form>
    </section>
  );
}
