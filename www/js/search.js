// Owns message search: the search dialog (opened with `/`, `f` or the button in the top bar),
// asking GET /api/search as the user types, the results with the matching words highlighted
// and system notices marked as such, opening a result's conversation at that message
// (messages.js scrolls there), and closing with a single Esc (even with words in the box).

import { request, describeError } from './api.js';
import * as state from './state.js';
import * as users from './users.js';
import * as messages from './messages.js';
import { openDialog } from './dialogs.js';
import { previewText, timeElement } from './markdown.js';

const TYPING_PAUSE_MS = 250;
const SNIPPET_CHARS = 240;

const dialog = document.getElementById('search-dialog');
const form = document.getElementById('search-form');
const input = document.getElementById('search-input');
const scope = document.getElementById('search-scope');
const from = document.getElementById('search-from');
const status = document.getElementById('search-status');
const results = document.getElementById('search-results');
const button = document.getElementById('search-button');

let timer = 0;
let asked = 0; // the number of the latest search, so a slow answer cannot replace a newer one
let lastKey = '';

export function openSearch() {
  const current = state.currentChannel();
  const option = scope.querySelector('option[value="current"]');
  option.textContent = current ? `In ${label(current)}` : 'This conversation';
  option.disabled = !current;
  openDialog(dialog, input);
  input.select();
}

function label(channel) {
  const kind = state.kindOf(channel);
  return `${kind === 'public' ? '#' : ''}${state.conversationName(channel)}`;
}

/** The words of a query as the server splits them, lower-cased. */
function queryWords(text) {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

function searchSoon() {
  clearTimeout(timer);
  timer = setTimeout(search, TYPING_PAUSE_MS);
}

async function search() {
  clearTimeout(timer);
  const q = input.value.trim();
  const channel = scope.value === 'current' ? state.currentChannel() : '';
  const sender = from.value.trim().replace(/^@/, '');
  const key = JSON.stringify([q, channel, sender]);
  if (key === lastKey) return;
  lastKey = key;
  asked += 1;
  const mine = asked;
  if (!queryWords(q).length) {
    status.textContent = '';
    results.replaceChildren();
    return;
  }
  status.textContent = 'Searching…';
  const params = new URLSearchParams({ q });
  if (channel) params.set('channel', channel);
  if (sender) params.set('from', sender);
  let result;
  try {
    result = await request('GET', `/api/search?${params}`);
  } catch (err) {
    if (mine === asked) fail(err.message);
    return;
  }
  if (mine !== asked) return;
  if (result.status === 401) location.replace('/login');
  if (!result.ok || !Array.isArray(result.data)) {
    fail(describeError(result));
    return;
  }
  const found = result.data.filter((m) => m && typeof m.id === 'string' && typeof m.channel === 'string');
  // Older messages still being indexed (after an upgrade): say so rather than look complete.
  const unindexed = Number(result.headers?.get('X-Search-Unindexed') || 0);
  showResults(found, queryWords(q));
  if (unindexed > 0) {
    status.textContent += ` Still indexing older messages (${unindexed.toLocaleString()} to go); results may be incomplete.`;
    lastKey = ''; // asking again later gives a fuller answer
  }
}

function fail(problem) {
  lastKey = ''; // the same search may be tried again
  status.textContent = `Search failed: ${problem}`;
  results.replaceChildren();
}

function showResults(found, words) {
  if (!found.length) status.textContent = 'No messages match.';
  else if (found.length >= 50) status.textContent = 'The 50 newest matches:';
  else status.textContent = found.length === 1 ? '1 match:' : `${found.length} matches:`;
  results.replaceChildren(...found.map((m) => resultItem(m, words)));
}

function resultItem(m, words) {
  const li = document.createElement('li');
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'search-result';
  open.dataset.channel = m.channel;
  open.dataset.id = m.id;
  const head = document.createElement('span');
  head.className = 'search-result-head';
  const where = document.createElement('span');
  where.className = 'search-result-channel';
  where.textContent = label(m.channel);
  const who = document.createElement('span');
  if (m.system) {
    // Notices (someone joined, a call ended…) are the server's words, not a person's.
    open.classList.add('search-result-system');
    open.dataset.system = 'true';
    who.className = 'search-result-notice';
    const symbol = document.createElement('span');
    symbol.setAttribute('aria-hidden', 'true');
    symbol.textContent = 'ℹ ';
    who.append(symbol, 'System notice');
  } else {
    who.className = 'search-result-sender';
    who.textContent = m.sender;
    who.style.setProperty('--name-color', users.nameColor(m.sender));
  }
  head.append(who, where, timeElement(m.ts, 'search-result-time muted'));
  const text = document.createElement('span');
  text.className = 'search-result-text';
  text.append(highlight(previewText(m), words));
  open.append(head, text);
  li.append(open);
  return li;
}

/**
 * `text` (cut to a window around the first match) as text nodes, with every word of the query
 * — and words starting with its last word, as the server matches them — inside <mark>.
 */
function highlight(text, words) {
  const exact = new Set(words.slice(0, -1));
  const prefix = words[words.length - 1] || '';
  const matches = (word) => {
    const lower = word.toLowerCase();
    return exact.has(lower) || (prefix && lower.startsWith(prefix));
  };
  const tokens = [...text.matchAll(/[\p{L}\p{N}]+/gu)];
  const first = tokens.find((t) => matches(t[0]));
  let start = 0;
  if (text.length > SNIPPET_CHARS && first && first.index > SNIPPET_CHARS / 3) {
    start = first.index - Math.floor(SNIPPET_CHARS / 4);
    // Begin at a word, not in the middle of one.
    const space = text.lastIndexOf(' ', start);
    start = space > 0 ? space + 1 : start;
  }
  const end = Math.min(text.length, start + SNIPPET_CHARS);
  const fragment = document.createDocumentFragment();
  if (start > 0) fragment.append('…');
  let at = start;
  for (const token of tokens) {
    if (token.index < start || token.index + token[0].length > end || !matches(token[0])) continue;
    if (token.index > at) fragment.append(text.slice(at, token.index));
    const mark = document.createElement('mark');
    mark.textContent = token[0];
    fragment.append(mark);
    at = token.index + token[0].length;
  }
  fragment.append(text.slice(at, end));
  if (end < text.length) fragment.append('…');
  return fragment;
}

function openResult(resultButton) {
  dialog.close();
  messages.showMessage(resultButton.dataset.channel, resultButton.dataset.id);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  search();
});
input.addEventListener('input', searchSoon);
from.addEventListener('input', searchSoon);
scope.addEventListener('change', search);
// One Esc closes the search: a search box would otherwise spend the first one on clearing
// its words.
dialog.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape' || event.defaultPrevented || event.isComposing) return;
  event.preventDefault();
  dialog.close();
});
form.addEventListener('keydown', (event) => {
  if (event.key === 'ArrowDown' && event.target !== scope) {
    const first = results.querySelector('.search-result');
    if (first) {
      event.preventDefault();
      first.focus();
    }
  }
});
results.addEventListener('click', (event) => {
  const result = event.target.closest('.search-result');
  if (result) openResult(result);
});
// Up and Down walk through the results; Up from the first goes back to the search box.
results.addEventListener('keydown', (event) => {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  const all = [...results.querySelectorAll('.search-result')];
  const index = all.indexOf(document.activeElement);
  if (index < 0) return;
  event.preventDefault();
  const next = index + (event.key === 'ArrowDown' ? 1 : -1);
  if (next < 0) input.focus();
  else all[Math.min(next, all.length - 1)].focus();
});
button.addEventListener('click', openSearch);
