/**
 * The live page: the status as an HTML table rendered on the server (it reads without
 * JavaScript), kept current by an EventSource on /stream. No build step and no library: a few
 * lines of script, allowed by its hash alone (Content-Security-Policy). The stream coalesces
 * changes (at most 4 updates a second) and resends the status every 15 s, which keeps proxies
 * from closing it and turns a silent node stale on screen (after the seed-server reference §A.4).
 */
import { createHash } from 'node:crypto';
import type { Context, Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { claimLine } from '../protocol/serve-claims.ts';
import { progressLine, type ServeStatus } from '../protocol/serve-status.ts';
import { timelineLine } from '../protocol/timeline.ts';
import type { ServeDeps } from './serve-deps.ts';

/** Pages watching at once; more get 503 (each holds a connection). */
export const MAX_WATCHERS = 50;
const COALESCE_MS = 250;
const RESEND_MS = 15_000;

const COLUMNS = ['node', 'role', 'phase', 'boots', 'stage', 'last event', 'last problem'] as const;

/** A node's row on the server. */
export const cells = (n: ServeStatus['nodes'][number]): string[] =>
  [n.hostname, n.role, n.phase, String(n.boots), n.stage ? `${n.stage} ${n.state}` : '-', n.lastEvent ?? (n.lastFetch ? `fetched ${n.lastFetch.file}` : '-'), n.lastProblem ?? ''];
/** The same in the page's script (test/serve/page.test.ts holds the two equal). */
export const CELLS_JS = "(n) => [n.hostname, n.role, n.phase, String(n.boots), n.stage ? n.stage + ' ' + n.state : '-', "
  + "n.lastEvent ?? (n.lastFetch ? 'fetched ' + n.lastFetch.file : '-'), n.lastProblem ?? '']";

/** The lines under a node's row: its claims (one pending waits for the user), its latest boot's timeline, then its last messages. */
export const detail = (n: ServeStatus['nodes'][number]): string =>
  [...n.claims.map((c) => claimLine(n.hostname, c)), timelineLine(n.timeline), ...n.lines].filter(Boolean).join('\n');
/** The same in the page's script (test/serve/page.test.ts holds the two equal). */
export const DETAIL_JS = "(n) => [...n.claims.map((c) => claimLine(n.hostname, c)), timelineLine(n.timeline), ...n.lines].filter(Boolean).join('\\n')";

// textContent only: nothing a node posts is ever markup. #live says whether the stream is
// connected: after an error EventSource reconnects by itself every `retry` ms (WHATWG HTML,
// server-sent events, "reestablish the connection"), and until then the rows simply stay as they
// were: a table that looks current while the server is gone would mislead. A refusal (503 when
// MAX_WATCHERS pages watch) closes the stream for good: no retry follows.
const SCRIPT = `const cells = ${CELLS_JS};
const progressLine = ${progressLine.toString()};
const timelineLine = ${timelineLine.toString()};
const claimLine = ${claimLine.toString()};
const detail = ${DETAIL_JS};
const render = (s) => {
  document.getElementById('summary').textContent = s.cluster + ' at ' + s.url + ', ' + s.time;
  document.getElementById('progress').textContent = progressLine(s.progress);
  document.getElementById('nodes').replaceChildren(...s.nodes.flatMap((n) => {
    const tr = document.createElement('tr');
    tr.className = n.phase;
    for (const text of cells(n)) { const td = document.createElement('td'); td.textContent = text; tr.append(td); }
    const more = document.createElement('tr');
    more.className = 'detail';
    const td = document.createElement('td');
    td.colSpan = ${COLUMNS.length};
    td.textContent = detail(n);
    more.append(td);
    return [tr, more];
  }));
  document.getElementById('unknown').textContent = s.unknown.map((u) => u.by + ' ' + u.value + ' from ' + u.address + ' (' + u.count + 'x)').join('\\n');
};
let shown = null;
const live = (text, on) => { const p = document.getElementById('live'); p.textContent = text; p.className = on ? 'on' : 'off'; };
const stream = new EventSource('stream');
stream.addEventListener('status', (e) => { shown = JSON.parse(e.data); render(shown); live('live', true); });
stream.addEventListener('error', () => live((stream.readyState === EventSource.CLOSED ? 'not live: the server refused the stream; reload later'
  : 'disconnected, retrying') + (shown ? ': the table is as of ' + shown.time : ''), false));`;
const CSP = `default-src 'none'; script-src 'sha256-${createHash('sha256').update(SCRIPT).digest('base64')}'; style-src 'unsafe-inline'; connect-src 'self'`;

const escape = (text: string): string => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** The page for a status (pure). */
export function pageHtml(s: ServeStatus): string {
  const rows = s.nodes.map((n) => `<tr class="${escape(n.phase)}">${cells(n).map((c) => `<td>${escape(c)}</td>`).join('')}</tr>\n`
    + `<tr class="detail"><td colspan="${COLUMNS.length}">${escape(detail(n))}</td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>imgforge serve: ${escape(s.cluster)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.3em .8em;text-align:left;border-bottom:1px solid #ddd;white-space:nowrap}td:last-child{white-space:normal;min-width:16em}tr:has(+.detail) td{border-bottom:none}.detail td{white-space:pre-line;color:#555;font-size:12px}
.complete{background:#e6f4ea}.failed{background:#fce8e6}.stale{background:#fef7e0}.booting,.seeded{background:#e8f0fe}pre{color:#555}#live.on{color:#137333}#live.off{color:#b3261e}</style></head>
<body><h1>${escape(s.cluster)}</h1><p id="summary">${escape(`${s.cluster} at ${s.url}, ${s.time}`)}</p>
<p id="progress">${escape(progressLine(s.progress))}</p>
<p id="live" class="off">not live: this page updates itself only with JavaScript</p>
<table><thead><tr>${COLUMNS.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody id="nodes">
${rows}
</tbody></table>
<h2>Unknown machines</h2><pre id="unknown">${escape(s.unknown.map((u) => `${u.by} ${u.value} from ${u.address} (${u.count}x)`).join('\n'))}</pre>
<script>${SCRIPT}</script></body></html>
`;
}

/** GET / (the page) and GET /stream (its events). */
export function addLivePage<E extends { Bindings: object }>(app: Hono<E>, deps: ServeDeps): void {
  const { plan, state, now } = deps;
  let watchers = 0;
  app.get('/', (c) => {
    c.header('content-security-policy', CSP);
    return c.html(pageHtml(state.status(plan, now())));
  });
  app.get('/stream', (c: Context<E>) => {
    if (watchers >= MAX_WATCHERS) return c.json({ error: `${MAX_WATCHERS} pages are watching already` }, 503);
    watchers++;
    return streamSSE(c, async (stream) => {
      let seq = 0;
      const send = (): Promise<void> => stream.writeSSE({ event: 'status', id: String(++seq), data: JSON.stringify(state.status(plan, now())) });
      let timer: NodeJS.Timeout | undefined;
      const off = state.onChange(() => { timer ??= setTimeout(() => { timer = undefined; void send(); }, COALESCE_MS); });
      const resend = setInterval(() => void send(), RESEND_MS);
      try {
        await stream.writeSSE({ event: 'status', id: String(++seq), retry: 3000, data: JSON.stringify(state.status(plan, now())) });
        await new Promise<void>((resolve) => stream.onAbort(resolve));
      } finally {
        off();
        clearInterval(resend);
        clearTimeout(timer);
        watchers--;
      }
    });
  });
}
