import { watch, type FSWatcher } from 'chokidar';
import type { Stats } from 'node:fs';
import { relative, sep } from 'node:path';

/** The only file that uses chokidar. Paths handed out are relative to the root, with "/" separators. */

export interface TreeEvents {
  /** A file present when watching started (reported before `ready`). */
  existing(relPath: string, stats: Stats | undefined): void;
  /** Watching is in place and the initial scan is complete. */
  ready(): void;
  /** A file was created or written after `ready`. */
  written(relPath: string): void;
  /** A file disappeared. */
  removed(relPath: string): void;
  error(error: unknown): void;
}

export interface TreeWatch {
  close(): Promise<void>;
}

export function watchTree(root: string, events: TreeEvents): TreeWatch {
  let ready = false;
  const toRelative = (path: string) => relative(root, path).split(sep).join('/');
  const watcher: FSWatcher = watch(root, {
    persistent: true,
    ignoreInitial: false,
    alwaysStat: true,
    followSymlinks: false,
    ignorePermissionErrors: true,
    // Our own rename-over must reach us as a change of the file, not as unlink + add.
    atomic: false,
  });
  watcher.on('add', (path, stats) => {
    if (ready) events.written(toRelative(path));
    else events.existing(toRelative(path), stats);
  });
  watcher.on('change', (path) => {
    if (ready) events.written(toRelative(path));
  });
  watcher.on('unlink', (path) => events.removed(toRelative(path)));
  watcher.on('ready', () => {
    ready = true;
    events.ready();
  });
  watcher.on('error', (error) => events.error(error));
  return { close: () => watcher.close() };
}
