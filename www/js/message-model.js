// Owns the model of the open conversation's messages that messages.js keeps (a "view"): what
// it holds, validating a message from the server, applying one in time order (deletions are
// remembered for reply quotes; changes to history not loaded yet wait for its page), where the
// unread messages start and which ones nobody has seen here yet, whether a message mentions
// me, and what each message's element depends on around it (group head, replied-to message,
// readers, pinned, the edit box), with a version that changes whenever any of it does. Plain functions of a view
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
    nodes: new Map(), // 'm:<id>' | 'd:<day>' | 'new' -> {node, version}
    pinned: new Set(), // ids of the pinned messages (pins.js keeps it)
    newSinceTs: null, // the "New" divider sits above the first message from this time on
    seenTs: 0, // every message up to this time has been on screen (or was read before)
    seenId: null, // the newest message that has been on screen here
    readTs: 0, // the newest time marked read on the server from here
    countsExact: true, // whether every unread message is loaded, so they can be counted here
    placed: false, // drawn and scrolled to where it opens: from then on, what shows is seen
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

// Attention

const BROAD_MENTIONS = new Set(['@everyone', '@channel', '@here']);

/** Whether message `m` mentions `me`, by name or to everyone; never one's own. */
export function mentionsMe(m, me) {
  if (!me || m.sender === me || m.deleted || !Array.isArray(m.mentions)) return false;
  return m.mentions.some((name) => name === me || BROAD_MENTIONS.has(name));
}

/**
 * Marks where the unread messages of a freshly loaded view start, given how many the server
 * counts (others' messages and notices, newest last, up to `newestTs`): `newSinceTs` is the
 * time of the first unread one, `seenTs` that of the message before it. False when the first
 * unread one is older than what is loaded (the divider then sits above the oldest loaded).
 * What was read before counts as seen and as marked read here.
 */
export function markUnread(v, unread, me, newestTs) {
  if (unread <= 0) {
    v.newSinceTs = null;
    const read = v.messages.filter((m) => m.ts <= newestTs);
    v.seenTs = read.length ? read[read.length - 1].ts : 0;
    v.countsExact = true;
    v.readTs = v.seenTs;
    return true;
  }
  let counted = 0;
  for (let i = v.messages.length - 1; i >= 0; i -= 1) {
    const m = v.messages[i];
    if (m.ts > newestTs || m.sender === me) continue;
    counted += 1;
    if (counted === unread) {
      v.newSinceTs = m.ts;
      v.seenTs = i > 0 ? v.messages[i - 1].ts : 0;
      v.countsExact = true;
      v.readTs = v.seenTs;
      return true;
    }
  }
  v.newSinceTs = v.messages.length ? v.messages[0].ts : null;
  v.seenTs = 0;
  v.countsExact = false;
  return false;
}

/** Others' messages (and notices) newer than what has been on screen: [unread, mentioning me]. */
export function unseenCounts(v, me) {
  let unread = 0;
  let mentions = 0;
  for (let i = v.messages.length - 1; i >= 0 && v.messages[i].ts > v.seenTs; i -= 1) {
    const m = v.messages[i];
    if (m.sender === me) continue;
    unread += 1;
    if (mentionsMe(m, me)) mentions += 1;
  }
  return [unread, mentions];
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
  return {
    me, head: startsGroup(previous, m), parent, parentState, readers, showReceipt: m.id === lastMine, editing,
    pinned: v.pinned.has(m.id), mentionsMe: mentionsMe(m, me),
  };
}

/** Everything a message's element depends on: when it changes, the element is rebuilt. */
export function versionOf(m, context) {
  const user = users.getUser(m.sender);
  return JSON.stringify([
    m.sender, m.text, m.edited_ts, m.reactions, m.files, m.reply_unavailable, context.head,
    context.me, context.parentState, context.parent && [context.parent.sender, context.parent.text],
    context.readers, context.showReceipt, context.editing && context.editing.error,
    Boolean(context.editing), user && [user.name_color, user.avatar_url], context.pinned,
    context.mentionsMe, m.mentions,
  ]);
}
