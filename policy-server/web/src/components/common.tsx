import { useCallback, useEffect, useState, type DependencyList } from 'react';
import { ApiError } from '../api';
import { useConsole } from '../context';
import type { Language, Messages } from '../messages';

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  readonly loading: boolean;
  readonly reload: () => void;
}

/**
 * Runs `load` when `deps` change (and on reload()); a later answer replaces an earlier one, never the reverse.
 * `ready` may hand over an answer already in (a prefetch): the first render then shows it and nothing is loaded.
 */
export function useLoad<T>(load: () => Promise<T>, deps: DependencyList, ready?: () => T | undefined): Loaded<T> {
  const [generation, setGeneration] = useState(0);
  const run = useCallback(load, deps);
  // Which load (function and reload generation) the data or error answers. `loading` is derived from it in
  // the render itself: when the deps change, that very render already says "loading" (aria-busy) instead of
  // showing the previous answer as if it were the new one until the effect has run, a frame later.
  const [state, setState] = useState<{ data: T | undefined; error: unknown; answers?: { run: () => Promise<T>; generation: number } }>(() => {
    const data = ready?.();
    return { data, error: undefined, answers: data === undefined ? undefined : { run, generation } };
  });
  const answered = state.answers?.run === run && state.answers.generation === generation;
  useEffect(() => {
    if (answered) return;
    let current = true;
    run().then(
      (data) => current && setState({ data, error: undefined, answers: { run, generation } }),
      (error: unknown) => current && setState({ data: undefined, error, answers: { run, generation } }),
    );
    return () => {
      current = false;
    };
    // Deliberately not a dependency: `answered` changes because of this effect's own answer, which must not
    // start another load; a load follows run and generation only.
  }, [run, generation]);
  return { data: state.data, error: state.error, loading: !answered, reload: () => setGeneration((g) => g + 1) };
}

export function errorText(error: unknown, t: Messages): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return t.common.sessionExpired;
    if (error.status === 403) return `${t.common.forbidden} (${error.message})`;
    return `${error.message} (${error.code})`;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorMessage({ error }: { error: unknown }) {
  const { t } = useConsole();
  if (error === undefined || error === null) return null;
  return (
    <p className="error" role="alert">
      {errorText(error, t)}
    </p>
  );
}

export function Loading() {
  const { t } = useConsole();
  return <p aria-busy="true">{t.common.loading}</p>;
}

export function LanguageSelect({ language, onChange, label }: { language: Language; onChange: (language: Language) => void; label: string }) {
  return (
    <label className="language">
      {label}{' '}
      <select id="language" value={language} onChange={(e) => onChange(e.target.value === 'en' ? 'en' : 'ja')}>
        <option value="ja">日本語</option>
        <option value="en">English</option>
      </select>
    </label>
  );
}
