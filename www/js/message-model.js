// Owns the model of the open conversation's messages that messages.js keeps (a "view"): what
// it holds, validating a message from the server, applying one in time order (deletions are
// remembered for reply quotes; changes to history not loaded yet wait for its page), and what
// each message's element depends on around it (group head, replied-to message, readers, the
// edit box), with a version that changes whenever any of it does. Plain functions of a view
// passed in: no DOM, no requests, no listeners; which view is open, loading it and drawing it
// are messages.js's.

import * as users from './users.js';
import { dayKey } from './message-item.js';

const GROUP_GAP_SECONDS = 5 * 60;

/** A view of `channel` with nothing loaded yet. */
export function emptyView(channel) {
  return {
    channel,
    messages: [], // sorted by ts; no tombstones
    byId: new Map(),
    deleted: new Set(), // ids known to be deleted, for reply quotes
    readers: new Map(), // my message id -> Set of readers
    oldestId: null, // the oldest message the server has given us (tombstones included)
    oldestTs: Infinity,
    hasMore: true,
    loaded: false,
    failed: '',
    olderRequest: null,
    olderRetryAt: 0,
    queue: null, // events that arrived while the first page was loading
    catchUpAfterLoad: false,
    syncTs: 0, // newest ts or edited_ts seen, a lower bound for ?after=
    editing: null, // {id, draft, error}
    nodes: new Map(), // 'm:<id>' | 'd:<day>' -> {node, version}
  };
}

/** Whether `m` has what every message needs: an id, its channel and a time. */
export function validMessage(m) {
  return m && typeof m.id === 'string' && typeof m.channel === 'string' && typeof m.ts === 'number';
}

/**
 * Applies a message from an event or a catch-up. A change to a message older than the loaded
 * pages is left for when that page loads (inserting it would leave a gap in the history).
 */
export function apply(v, m, isNew) {
  const loadedRange = isNew || v.byId.has(m.id) || !v.hasMore || m.ts >= v.oldestTs;
  if (loadedRange) upsert(v, m);
  else if (m.deleted) v.deleted.add(m.id);
}

/** Puts message `m` in the view in time order, or takes it out when it is deleted. */
export function upsert(v, m) {
  v.syncTs = Math.max(v.syncTs, m.ts, Number(m.edited_ts) || 0);
  const existing = v.byId.get(m.id);
  if (m.deleted) {
    v.deleted.add(m.id);
    if (existing) {
      v.byId.delete(m.id);
      v.messages.splice(v.messages.indexOf(existing), 1);
    }
    if (v.editing?.id === m.id) v.editing = null;
    return;
  }
  if (existing) {
    v.messages[v.messages.indexOf(existing)] = m;
  } else {
    let index = v.messages.length;
    while (index > 0 && v.messages[index - 1].ts > m.ts) index -= 1;
    v.messages.splice(index, 0, m);
  }
  v.byId.set(m.id, m);
}

// Around each message

function startsGroup(previous, m) {
  return !previous || previous.sender !== m.sender || previous.system || m.system
    || m.ts - previous.ts > GROUP_GAP_SECONDS || dayKey(previous.ts) !== dayKey(m.ts);
}

/** What message-item.js needs to know around message `m`, which follows `previous`. */
export function messageContext(v, m, previous, me, lastMine) {
  let parent = null;
  let parentState = 'unknown';
  if (m.reply_to) {
    parent = v.byId.get(m.reply_to) || null;
    if (parent) parentState = 'found';
    else if (v.deleted.has(m.reply_to)) parentState = 'deleted';
    else if (m.reply_unavailable) parentState = 'unavailable';
  }
  const readers = m.sender === me ? [...(v.readers.get(m.id) || [])].filter((r) => r !== me).sort() : [];
  const editing = v.editing?.id === m.id ? { draft: v.editing.draft, error: v.editing.error } : null;
  return { me, head: startsGroup(previous, m), parent, parentState, readers, showReceipt: m.id === lastMine, editing };
}

/** Everything a message's element depends on: when it changes, the element is rebuilt. */
export function versionOf(m, context) {
  const user = users.getUser(m.sender);
  return JSON.stringify([
    m.sender, m.text, m.edited_ts, m.reactions, m.files, m.reply_unavailable, context.head,
    context.me, context.parentState, context.parent && [context.parent.sender, context.parent.text],
    context.readers, context.showReceipt, context.editing && context.editing.error,
    Boolean(context.editing), user && [user.name_color, user.avatar_url],
  ]);
}
