import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiClient, SESSION_PATH } from './api';
import { App } from './App';
import { prefetchLog } from './pages/ExportLog';
import { parseRoute } from './route';
import './styles.css';

const root = document.getElementById('root');
if (root === null) throw new Error('index.html has no #root element');
const api = new ApiClient();
// The session check starts now rather than after React's first render and, opening on the export log (a
// bookmark, a link with filters), its rows are asked for alongside it rather than after it. The first render
// waits for both answers (index.html says "loading" meanwhile), so the page renders once, with its rows,
// instead of three times (loading, the page, its rows): on a slow PC each render costs more than the calls.
const start = parseRoute(window.location.hash);
const early = [api.prefetch(SESSION_PATH)];
if (start.parts[0] === 'log' && start.parts.length === 1) early.push(prefetchLog(api, start.query));
void Promise.all(early).then(() => {
  createRoot(root).render(
    <StrictMode>
      <App api={api} />
    </StrictMode>,
  );
});
