// Owns the Mentions view, opened from the sidebar's "@ Mentions" entry: the newest messages
// that mention me across every conversation I can read (GET /api/mentions), each with its
// conversation, sender, time and whether it is still unread, a page at a time with "Load more";
// choosing one opens its conversation at the message (messages.js scrolls there, loading older
// history if needed, and flashes it). While it is open, a new mention joins the top and a
// deleted one leaves.

import { request, describeError } from './api.js';
import * as socket from './socket.js';
import * as state from './state.js';
import * as users from './users.js';
import { showMessage } from './messages.js';
import { validMessage, mentionsMe } from './message-model.js';
import { openDialog } from './dialogs.js';
import { closeDrawer } from './sidebar.js';
import { previewText, timeElement } from './markdown.js';

const PAGE_SIZE = 30;
const SNIPPET_CHARS = 240;

const entry = document.getElementById('mentions-button');
const dialog = document.getElementById('mentions-dialog');
const status = document.getElementById('mentions-status');
const results = document.getElementById('mentions-list');
const more = document.getElementById('mentions-more');

let shown = []; // the mentions listed, newest first
let hasMore = false;
let loading = false;
let asked = 0; // the number of the latest first page asked for

function label(channel) {
  return `${state.kindOf(channel) === 'public' ? '#' : ''}${state.conversationName(channel)}`;
}

/** Fetches the page of mentions older than `before` (the newest when empty). */
async function fetchPage(before) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (before) params.set('before', before);
  try {
    const result = await request('GET', `/api/mentions?${params}`);
    if (result.status === 401) location.replace('/login');
    if (result.ok && Array.isArray(result.data)) return { found: result.data.filter(validMessage) };
    return { error: describeError(result) };
  } catch (err) {
    return { error: err.message };
  }
}

export async function openMentions() {
  closeDrawer();
  shown = [];
  hasMore = false;
  status.textContent = 'Loading…';
  results.replaceChildren();
  more.hidden = true;
  openDialog(dialog, dialog.querySelector('[data-close]'));
  asked += 1;
  const mine = asked;
  const page = await fetchPage('');
  if (mine !== asked || !dialog.open) return;
  if (page.error) {
    status.textContent = `Could not load your mentions: ${page.error}`;
    return;
  }
  shown = page.found;
  hasMore = page.found.length >= PAGE_SIZE;
  renderList();
}

async function loadMore() {
  if (loading || !shown.length) return;
  loading = true;
  more.disabled = true;
  const mine = asked;
  const page = await fetchPage(shown[shown.length - 1].id);
  loading = false;
  more.disabled = false;
  if (mine !== asked || !dialog.open) return;
  if (page.error) {
    status.textContent = `Could not load older mentions: ${page.error}`;
    return;
  }
  const known = new Set(shown.map((m) => m.id));
  const fresh = page.found.filter((m) => !known.has(m.id));
  shown.push(...fresh);
  hasMore = page.found.length >= PAGE_SIZE;
  renderList();
  // The keyboard goes on with the first mention that just arrived.
  if (fresh.length) results.querySelector(`[data-id="${CSS.escape(fresh[0].id)}"]`)?.focus();
}

function renderList() {
  const unread = shown.filter((m) => m.unread === true).length;
  const listed = shown.length === 1 ? '1 mention' : `${shown.length} mentions`;
  if (!shown.length) status.textContent = 'Nobody has mentioned you yet. When someone writes @ and your name, it shows here.';
  else status.textContent = unread ? `${listed}, ${unread} unread` : listed;
  // Keep the keyboard on the mention it was on when the list is redrawn under it.
  const focusedId = results.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  results.replaceChildren(...shown.map(mentionItem));
  if (focusedId) results.querySelector(`[data-id="${CSS.escape(focusedId)}"]`)?.focus();
  more.hidden = !hasMore;
}

function mentionItem(m) {
  const li = document.createElement('li');
  const open = document.createElement('button');
  open.type = 'button';
  open.className = 'search-result mention-result';
  open.dataset.channel = m.channel;
  open.dataset.id = m.id;
  const head = document.createElement('span');
  head.className = 'search-result-head';
  if (m.unread === true) {
    open.classList.add('mention-unread');
    const marker = document.createElement('span');
    marker.className = 'mention-unread-marker';
    marker.textContent = 'Unread';
    head.append(marker);
  }
  const who = document.createElement('span');
  who.className = 'search-result-sender';
  who.textContent = m.sender;
  who.style.setProperty('--name-color', users.nameColor(m.sender));
  const where = document.createElement('span');
  where.className = 'search-result-channel';
  where.textContent = label(m.channel);
  head.append(who, where, timeElement(m.ts, 'search-result-time muted'));
  const text = document.createElement('span');
  text.className = 'search-result-text';
  text.textContent = previewText(m, SNIPPET_CHARS);
  open.append(head, text);
  li.append(open);
  return li;
}

results.addEventListener('click', (event) => {
  const item = event.target.closest('.mention-result');
  if (!item) return;
  dialog.close();
  showMessage(item.dataset.channel, item.dataset.id);
});
// Up and Down walk through the list.
results.addEventListener('keydown', (event) => {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
  const all = [...results.querySelectorAll('.mention-result')];
  const index = all.indexOf(document.activeElement);
  if (index < 0) return;
  event.preventDefault();
  const next = Math.max(0, Math.min(all.length - 1, index + (event.key === 'ArrowDown' ? 1 : -1)));
  all[next].focus();
});
more.addEventListener('click', loadMore);
entry.addEventListener('click', openMentions);

// While the list is open it follows what happens: new mentions on top, deleted ones gone.
socket.on('message', (event) => {
  const m = event.message;
  if (!dialog.open || !validMessage(m) || !mentionsMe(m, state.myName())) return;
  if (shown.some((s) => s.id === m.id)) return;
  shown.unshift({ ...m, unread: true });
  renderList();
});
socket.on('message_updated', (event) => {
  const m = event.message;
  if (!dialog.open || !validMessage(m)) return;
  const index = shown.findIndex((s) => s.id === m.id);
  if (index < 0) return;
  if (m.deleted || !mentionsMe(m, state.myName())) shown.splice(index, 1);
  else shown[index] = { ...m, unread: shown[index].unread };
  renderList();
});
