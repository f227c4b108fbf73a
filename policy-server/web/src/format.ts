import type { Language } from './messages';

const LOCALES: Record<Language, string> = { ja: 'ja-JP', en: 'en-GB' };

const TIME_FORMAT: Intl.DateTimeFormatOptions = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' };
/**
 * One formatter per language, made on first use: toLocaleString with options builds a new formatter on every
 * call, which a page of 50 rows paid 50 times on its first render.
 */
const timeFormatters = new Map<Language, Intl.DateTimeFormat>();

/** A timestamp in the browser's time zone, in the reader's language. */
export function formatTime(iso: string | null, language: Language): string {
  if (iso === null) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  let formatter = timeFormatters.get(language);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat(LOCALES[language], TIME_FORMAT);
    timeFormatters.set(language, formatter);
  }
  return formatter.format(date);
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit] ?? ''}`;
}

/** The start of a local calendar day ("2025-04-01") as an ISO instant, so a day filter means the reader's day. */
export function localDayStart(day: string, plusDays = 0): string {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y ?? 1970, (m ?? 1) - 1, (d ?? 1) + plusDays).toISOString();
}
