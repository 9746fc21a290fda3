// Owns the message list of the open conversation: the newest page when it opens (and the older
// ones holding its first unread message, with the "New" divider above it, in view), older pages
// as the user scrolls up (keeping what they look at in place), live `message`,
// `message_updated`, `receipts` and `messages_expired` events, catch-up after a reconnect
// (`?after=`), and drawing the list with its dividers (a message's node is rebuilt only when
// something it shows changed). It opens a conversation at a given message (search results,
// mentions, pins) and counts unread messages and mentions of the other conversations. The
// model it keeps is message-model.js's and how one message looks message-item.js's; reading
// (reading.js), the actions on a message (message-actions.js), pins (pins.js) and visual mode
// (visual-mode.js) build on this list, which imports none of them.

import { request, channelUrl, describeError, serverNow } from './api.js';
import * as socket from './socket.js';
import * as state from './state.js';
import * as users from './users.js';
import * as reactions from './reactions.js';
import { showError } from './dialogs.js';
import { messageElement, dateDivider, newDivider, dayKey, dayLabel } from './message-item.js';
import {
  emptyView, validMessage, apply, upsert, messageContext, versionOf, markUnread, mentionsMe,
} from './message-model.js';

const PAGE_SIZE = 50;
const JUMP_PAGE_SIZE = 200;
const CATCH_UP_LIMIT = 1000; // the server's cap on one ?after= answer
const NEAR_BOTTOM_PX = 80;
const LOAD_OLDER_WITHIN_PX = 400;
const OLDER_RETRY_MS = 5000;
const UNREAD_PAGES = 5; // of JUMP_PAGE_SIZE, loaded at most to find the first unread message
const NEW_DIVIDER_MARGIN_PX = 48; // shown above the "New" divider when scrolling to it

const scroller = document.getElementById('messages');
const list = document.getElementById('message-list');
const historyStatus = document.getElementById('history-status');

// The open conversation's messages. Other modules read it through this live binding; only this
// module replaces it.
export let view = emptyView(null);
// Server time of the last event heard: everything before it reached us.
let lastHeardAt = 0;
let pendingJump = null; // {channel, id}: a message to show once its conversation has loaded
// Modules that build on the list (visual mode) hear when it starts over and when it is drawn.
const openHandlers = new Set();
const renderHandlers = new Set();

/** Calls `handler()` whenever the list starts over with a conversation, before it empties. */
export function onOpen(handler) {
  openHandlers.add(handler);
  return () => openHandlers.delete(handler);
}

/** Calls `handler()` after every render, once the nodes are in place and before scrolling. */
export function onRender(handler) {
  renderHandlers.add(handler);
  return () => renderHandlers.delete(handler);
}

async function fetchMessages(channel, query) {
  try {
    const result = await request('GET', `${channelUrl(channel, '/messages')}?${query}`);
    if (result.status === 401) location.replace('/login');
    if (result.ok && Array.isArray(result.data)) return { messages: result.data.filter(validMessage) };
    if (result.status === 404 || result.status === 403) {
      return { error: 'This conversation does not exist, or you are not a member of it.' };
    }
    return { error: describeError(result) };
  } catch (err) {
    return { error: err.message };
  }
}

// Opening a conversation

async function open(channel) {
  reactions.closePicker({ restoreFocus: false });
  for (const handler of openHandlers) handler();
  if (pendingJump && pendingJump.channel !== channel) pendingJump = null;
  // Counted by the server before anything here is read: where the "New" divider goes.
  const unread = state.unreadOf(channel);
  const v = emptyView(channel);
  v.queue = [];
  view = v;
  list.replaceChildren();
  renderStatus();
  const fetchedAt = serverNow();
  const page = await fetchMessages(channel, `limit=${PAGE_SIZE}`);
  if (view !== v) return;
  const queued = v.queue;
  v.queue = null;
  if (page.error) {
    v.failed = page.error;
    renderStatus();
    return;
  }
  v.loaded = true;
  addPage(v, page.messages);
  v.syncTs = Math.max(v.syncTs, fetchedAt - 3);
  for (const { m, isNew } of queued) apply(v, m, isNew);
  // Messages that arrived since the page was asked for are newer than the ones counted.
  const newestCounted = page.messages.length ? page.messages[page.messages.length - 1].ts : 0;
  let located = markUnread(v, unread, state.myName(), newestCounted);
  for (let pages = 0; !located && v.hasMore && pages < UNREAD_PAGES; pages += 1) {
    if (!(await loadOlder(JUMP_PAGE_SIZE)) || view !== v) break;
    located = markUnread(v, unread, state.myName(), newestCounted);
  }
  if (view !== v) return;
  render({ toBottom: true });
  revealNewDivider();
  v.placed = true;
  loadReceipts(v, v.oldestId);
  if (pendingJump?.channel === channel) {
    const { id } = pendingJump;
    pendingJump = null;
    await jumpTo(id);
  }
  fillViewport();
  if (v.catchUpAfterLoad) catchUp();
}

function addPage(v, page, limit = PAGE_SIZE) {
  if (page.length) {
    v.oldestId = page[0].id;
    v.oldestTs = page[0].ts;
  }
  v.hasMore = page.length >= limit;
  for (const m of page) upsert(v, m);
}

/** Loads who read our messages among those shown from `sinceId` up to `beforeId` (excluded). */
async function loadReceipts(v, sinceId, beforeId) {
  if (!sinceId) return;
  const query = new URLSearchParams({ since: sinceId });
  if (beforeId) query.set('before', beforeId);
  try {
    const result = await request('GET', `${channelUrl(v.channel, '/receipts')}?${query}`);
    if (view !== v || !result.ok || !result.data || typeof result.data !== 'object') return;
    for (const [id, readers] of Object.entries(result.data)) {
      if (Array.isArray(readers)) v.readers.set(id, new Set(readers));
    }
    render();
  } catch {
    // Receipts are a nicety; the next receipts event fills them in.
  }
}

/**
 * Loads the page before the oldest loaded message; resolves to true once it is shown, false
 * when there was nothing to load or it failed (after a failure, scrolling retries later).
 */
export function loadOlder(limit = PAGE_SIZE) {
  const v = view;
  if (!v.loaded || !v.hasMore || Date.now() < v.olderRetryAt) return Promise.resolve(false);
  if (v.olderRequest) return v.olderRequest;
  v.olderRequest = (async () => {
    const olderThan = v.oldestId;
    const before = olderThan ? `&before=${encodeURIComponent(olderThan)}` : '';
    const page = await fetchMessages(v.channel, `limit=${limit}${before}`);
    v.olderRequest = null;
    if (view !== v) return false;
    if (page.error) {
      v.olderRetryAt = Date.now() + OLDER_RETRY_MS;
      showError(`Could not load older messages: ${page.error}`);
      renderStatus();
      return false;
    }
    addPage(v, page.messages, limit);
    render();
    if (page.messages.length) loadReceipts(v, page.messages[0].id, olderThan);
    return true;
  })();
  renderStatus();
  return v.olderRequest;
}

/** Keeps loading older pages until the list can scroll (so scrolling up can load more). */
async function fillViewport() {
  const v = view;
  while (view === v && v.hasMore && scroller.scrollHeight <= scroller.clientHeight + LOAD_OLDER_WITHIN_PX) {
    if (!(await loadOlder())) return;
  }
}

/** Fetches every change since the last one we saw (after a reconnect). */
async function catchUp() {
  const v = view;
  if (!v.channel) return;
  if (!v.loaded) {
    if (v.queue) v.catchUpAfterLoad = true;
    else if (v.failed) open(v.channel);
    return;
  }
  const after = Math.max(v.syncTs, lastHeardAt - 3);
  const fetchedAt = serverNow();
  const page = await fetchMessages(v.channel, `after=${after}`);
  if (view !== v || page.error) return;
  if (page.messages.length >= CATCH_UP_LIMIT) {
    // Too much happened: start over from the newest page.
    open(v.channel);
    return;
  }
  for (const m of page.messages) apply(v, m, false);
  v.syncTs = Math.max(v.syncTs, fetchedAt - 3);
  render();
  loadReceipts(v);
}

// Drawing

export function isNearBottom() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_BOTTOM_PX;
}

/** The first message at least partly visible, and where it is on screen. */
function topAnchor() {
  const top = scroller.getBoundingClientRect().top;
  for (const node of list.children) {
    if (!node.classList.contains('message')) continue;
    const rect = node.getBoundingClientRect();
    if (rect.bottom > top) return { key: `m:${node.dataset.id}`, top: rect.top };
  }
  return null;
}

export function render({ toBottom = false } = {}) {
  const v = view;
  const stick = toBottom || isNearBottom();
  const anchor = stick ? null : topAnchor();
  const me = state.myName();
  let lastMine = null;
  for (const m of v.messages) if (m.sender === me && !m.system) lastMine = m.id;

  const used = new Map();
  const desired = [];
  let refocus = null;
  const place = (key, version, build) => {
    const cached = v.nodes.get(key);
    let node = cached?.node;
    if (!cached || cached.version !== version) {
      node = build();
      if (cached && cached.node.contains(document.activeElement)) {
        refocus = { node, key: document.activeElement.dataset?.focus };
      }
    }
    used.set(key, { node, version });
    desired.push(node);
  };

  let previous = null;
  let newPlaced = v.newSinceTs === null;
  for (const m of v.messages) {
    if (!previous || dayKey(previous.ts) !== dayKey(m.ts)) {
      const label = dayLabel(m.ts);
      place(`d:${dayKey(m.ts)}`, label, () => dateDivider(m.ts));
    }
    // The first unread message keeps its place even when it is deleted: the next one takes it.
    const afterNew = !newPlaced && m.ts >= v.newSinceTs && m.sender !== me;
    if (afterNew) {
      place('new', 'new', newDivider);
      newPlaced = true;
    }
    // A message below the divider starts a group of its own, with its sender's name.
    const context = messageContext(v, m, afterNew ? null : previous, me, lastMine);
    place(`m:${m.id}`, versionOf(m, context), () => messageElement(m, context));
    previous = m;
  }
  v.nodes = used;

  // Reconcile: drop what is gone, then insert new nodes in order; kept nodes never move, so
  // focus and hover survive updates elsewhere in the list.
  const wanted = new Set(desired);
  for (const child of [...list.children]) if (!wanted.has(child)) child.remove();
  let cursor = list.firstChild;
  for (const node of desired) {
    if (node === cursor) cursor = cursor.nextSibling;
    else list.insertBefore(node, cursor);
  }

  if (refocus) {
    const target = (refocus.key && refocus.node.querySelector(`[data-focus="${CSS.escape(refocus.key)}"]`)) || refocus.node;
    target.focus({ preventScroll: true });
  }
  const editor = v.editing && v.nodes.get(`m:${v.editing.id}`)?.node.querySelector('.edit-input');
  if (editor && document.activeElement !== editor && v.editing.focus) {
    v.editing.focus = false;
    editor.focus();
    editor.setSelectionRange(editor.value.length, editor.value.length);
  }

  for (const handler of renderHandlers) handler();

  renderStatus();
  if (stick) {
    scroller.scrollTop = scroller.scrollHeight;
  } else if (anchor) {
    const node = v.nodes.get(anchor.key)?.node;
    if (node) scroller.scrollTop += node.getBoundingClientRect().top - anchor.top;
  }
}

function renderStatus() {
  const v = view;
  let text = '';
  if (!v.channel) text = '';
  else if (v.failed) text = v.failed;
  else if (!v.loaded) text = 'Loading messages…';
  else if (v.olderRequest) text = 'Loading older messages…';
  else if (!v.hasMore) text = beginningText(v.channel, v.messages.length === 0);
  historyStatus.textContent = text;
  historyStatus.classList.toggle('error', Boolean(v.failed));
}

function beginningText(channel, empty) {
  const name = state.conversationName(channel);
  const kind = state.kindOf(channel);
  if (kind === 'dm') {
    if (state.isReadOnly(channel)) return 'Notices from the server administrator appear here.';
    return empty ? `This is the start of your conversation with ${name}. Say hello!` : `This is the start of your conversation with ${name}.`;
  }
  return empty ? `This is the very beginning of ${name}. No messages yet.` : `This is the very beginning of ${name}.`;
}

/** Scrolls up to the "New" divider when it is above the screen, so the first unread shows. */
function revealNewDivider() {
  const node = view.nodes.get('new')?.node;
  if (!node) return;
  const offset = node.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
  if (offset < 0) scroller.scrollTop += offset - NEW_DIVIDER_MARGIN_PX;
  stuckToBottom = isNearBottom();
}

// Events

function onMessage(m, isNew) {
  if (!validMessage(m)) return;
  const me = state.myName();
  const v = view;
  const fromOther = isNew && m.sender !== me && !m.deleted;
  if (isNew && state.kindOf(m.channel) === 'dm') state.noteDmActivity(m.channel, m.ts);
  if (isNew && !state.findConversation(m.channel)) state.refreshChannels();
  if (m.channel === v.channel) {
    if (v.queue) {
      v.queue.push({ m, isNew });
      return;
    }
    if (!v.loaded) return;
    apply(v, m, isNew);
    // Whoever comes back to a hidden tab finds the "New" divider above what came meanwhile.
    if (fromOther && document.visibilityState !== 'visible' && v.newSinceTs === null) v.newSinceTs = m.ts;
    render();
    return;
  }
  if (fromOther) state.addUnread(m.channel, { mention: mentionsMe(m, me) });
  else if (!isNew && m.deleted && state.unreadOf(m.channel) > 0) state.refreshChannels();
}

socket.on('message', (event) => onMessage(event.message, true));
socket.on('message_updated', (event) => onMessage(event.message, false));
socket.on('receipts', (event) => {
  const v = view;
  if (event.channel !== v.channel || typeof event.reader !== 'string' || !Array.isArray(event.ids)) return;
  for (const id of event.ids) {
    if (!v.readers.has(id)) v.readers.set(id, new Set());
    v.readers.get(id).add(event.reader);
  }
  render();
});
socket.on('messages_expired', (event) => {
  // The cleanup removed every message older than before_ts, for everyone: drop them here too
  // (quotes of them then show as deleted), and nothing older is left to load.
  if (typeof event.before_ts !== 'number') return;
  const v = view;
  const expired = v.messages.filter((m) => m.ts < event.before_ts);
  for (const m of expired) upsert(v, { ...m, deleted: true });
  if (v.oldestTs < event.before_ts) v.hasMore = false;
  if (expired.length && v.loaded) render();
  state.refreshChannels();
});
socket.on('*', (event) => {
  if (event.type !== 'hello') lastHeardAt = serverNow();
});
socket.on('hello', () => {
  if (view.channel) catchUp();
});

state.subscribe('open', open);
state.subscribe('me', () => render());
state.subscribe('channels', renderStatus);
users.onChange(() => {
  if (view.loaded) render();
});
users.onRemoved(reloadShown);

scroller.addEventListener('scroll', () => {
  if (scroller.scrollTop < LOAD_OLDER_WITHIN_PX) loadOlder();
}, { passive: true });

// Whoever is reading the newest message keeps seeing it when the layout changes under them:
// images loading, the banner appearing, the composer growing, the window turning.
let stuckToBottom = true;
scroller.addEventListener('scroll', () => {
  stuckToBottom = isNearBottom();
}, { passive: true });
const restick = () => {
  if (stuckToBottom) scroller.scrollTop = scroller.scrollHeight;
};
list.addEventListener('load', (event) => {
  if (event.target.tagName === 'IMG') restick();
}, true);
new ResizeObserver(restick).observe(scroller);

// Going to a message, reloading, scrolling

/** Scrolls to message `id`, loading older pages until it is found; highlights it. */
export async function jumpTo(id) {
  const v = view;
  for (let pages = 0; pages < 25 && !v.byId.has(id) && !v.deleted.has(id) && v.hasMore; pages += 1) {
    const loaded = await loadOlder(JUMP_PAGE_SIZE);
    if (view !== v) return;
    if (!loaded) break;
  }
  const node = v.nodes.get(`m:${id}`)?.node;
  if (!node) {
    showError('That message is no longer available.');
    return;
  }
  node.scrollIntoView({ block: 'center' });
  node.classList.remove('flash');
  void node.offsetWidth; // restart the highlight animation
  node.classList.add('flash');
  node.focus({ preventScroll: true });
}

/** Opens conversation `channel` at message `id` (a search result, say). */
export function showMessage(channel, id) {
  if (view.channel === channel && view.loaded) {
    jumpTo(id);
    return;
  }
  pendingJump = { channel, id };
  if (state.currentChannel() !== channel) state.openConversation(channel);
}

/**
 * Reloads the newest messages already shown, for changes no event reports: an account deletion
 * renames its messages to "Deleted User" (soft) or removes them (hard).
 */
async function reloadShown() {
  const v = view;
  if (!v.loaded) return;
  const limit = Math.min(JUMP_PAGE_SIZE, Math.max(PAGE_SIZE, v.messages.length));
  const page = await fetchMessages(v.channel, `limit=${limit}`);
  if (view !== v || page.error) return;
  const fresh = new Set(page.messages.map((m) => m.id));
  const from = page.messages.length >= limit ? page.messages[0].ts : -Infinity;
  for (const m of [...v.messages]) {
    if (m.ts >= from && !fresh.has(m.id)) upsert(v, { ...m, deleted: true, text: '', files: [] });
  }
  for (const m of page.messages) upsert(v, m);
  render();
}

/** Scrolls the list: 'up'/'down' by a step, 'top'/'bottom' to an end. */
export function scrollMessages(where) {
  const step = scroller.clientHeight * 0.4;
  if (where === 'up') scroller.scrollBy({ top: -step });
  else if (where === 'down') scroller.scrollBy({ top: step });
  else if (where === 'top') scroller.scrollTop = 0;
  else scroller.scrollTop = scroller.scrollHeight;
}
