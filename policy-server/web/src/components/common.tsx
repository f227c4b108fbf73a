import { useCallback, useEffect, useRef, useState, type DependencyList } from 'react';
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
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>(() => {
    const data = ready?.();
    return { data, error: undefined, loading: data === undefined };
  });
  const answered = useRef(!state.loading);
  const [generation, setGeneration] = useState(0);
  const run = useCallback(load, deps);
  useEffect(() => {
    if (answered.current) {
      answered.current = false;
      return;
    }
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    run().then(
      (data) => current && setState({ data, error: undefined, loading: false }),
      (error: unknown) => current && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [run, generation]);
  return { ...state, reload: () => setGeneration((g) => g + 1) };
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
