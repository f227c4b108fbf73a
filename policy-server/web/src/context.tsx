import { createContext, useContext } from 'react';
import type { ApiClient, Session } from './api';
import type { Language, Messages } from './messages';

export interface ConsoleContext {
  readonly api: ApiClient;
  readonly session: Session;
  readonly t: Messages;
  readonly language: Language;
}

export const Context = createContext<ConsoleContext | null>(null);

export function useConsole(): ConsoleContext {
  const value = useContext(Context);
  if (value === null) throw new Error('useConsole outside the console provider');
  return value;
}
