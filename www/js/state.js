// Owns the state the feature modules share: who is signed in, the conversation list of
// GET /api/channels with its unread, mention and pin counts, my notification choices (a level
// per conversation and do-not-disturb, GET /api/notifications), and which conversation is open
// (mirrored in the URL as #c/<channel id>). Modules read it through the functions below and
// hear about changes with `subscribe(topic, handler)`; only this module changes it. It never
// touches the DOM.
//
// Topics: 'me' (username), 'profile' (GET /api/me: colour, bio, upload limits), 'channels' (the
// list or a count changed), 'choices' (a level or do-not-disturb changed), 'open' (channel id),
// plus requests between modules that must not import each other: 'reply' (message),
// 'edit-last' (), 'focus-composer' ().

import { request, describeError } from './api.js';

const listeners = new Map(); // topic -> Set of handlers

let me = '';
let profile = null; // the answer of GET /api/me
let lists = { public: [], private: [], dms: [] };
let current = null;
let loaded = false;
let refreshing = null; // the GET /api/channels in flight, if any
let refreshAgain = false;
let choices = null; // {dnd, levels: {channel: 'mentions' | 'muted'}} once known

/** Calls `handler(detail)` on every `publish(topic)`. Returns an unsubscribe function. */
export function subscribe(topic, handler) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(handler);
  return () => listeners.get(topic).delete(handler);
}

/** Tells every subscriber of `topic`; one failing subscriber does not stop the others. */
export function publish(topic, detail) {
  for (const handler of [...(listeners.get(topic) || [])]) {
    try {
      handler(detail);
    } catch (err) {
      console.error(err);
    }
  }
}

export function myName() {
  return me;
}

export function setMe(username) {
  if (!username || username === me) return;
  me = username;
  publish('me', me);
}

/** What GET /api/me said (name colour, bio, upload limits…), or null before it answered. */
export function myProfile() {
  return profile;
}

export function setProfile(data) {
  if (!data || typeof data.username !== 'string') return;
  profile = data;
  setMe(data.username);
  publish('profile', profile);
}

/** Whether the conversation list has been loaded at least once. */
export function channelsLoaded() {
  return loaded;
}

/** Fetches GET /api/channels (coalescing concurrent calls). Resolves to an error text or ''. */
export function refreshChannels() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    let error = '';
    do {
      refreshAgain = false;
      try {
        const result = await request('GET', '/api/channels');
        if (result.status === 401) {
          location.replace('/login');
          return '';
        }
        if (result.ok && result.data) {
          lists = normalise(result.data);
          loaded = true;
          error = '';
          publish('channels');
        } else {
          error = describeError(result);
        }
      } catch (err) {
        error = err.message;
      }
    } while (refreshAgain);
    refreshing = null;
    return error;
  })();
  return refreshing;
}

function normalise(data) {
  const array = (value) => (Array.isArray(value) ? value : []);
  return {
    public: array(data.public).filter((c) => c && typeof c.id === 'string'),
    private: array(data.private).filter((c) => c && typeof c.id === 'string'),
    dms: array(data.dms).filter((c) => c && typeof c.id === 'string'),
  };
}

/** The three lists of the sidebar (do not modify them). */
export function channelLists() {
  return lists;
}

/** Every listed conversation in sidebar order, as {id, kind, entry}. */
export function conversationOrder() {
  return [
    ...lists.public.map((entry) => ({ id: entry.id, kind: 'public', entry })),
    ...lists.private.map((entry) => ({ id: entry.id, kind: 'private', entry })),
    ...lists.dms.map((entry) => ({ id: entry.id, kind: 'dm', entry })),
  ];
}

/** The sidebar entry of `id`, or null when it is not listed (a DM not started yet, say). */
export function findConversation(id) {
  return conversationOrder().find((c) => c.id === id) || null;
}

export function kindOf(id) {
  if (typeof id !== 'string') return 'public';
  if (id.startsWith('dm:')) return 'dm';
  if (id.startsWith('private:')) return 'private';
  return 'public';
}

/** The participants of a DM id, from the id itself (`dm:alice:bob`). */
export function dmUsers(id) {
  return kindOf(id) === 'dm' ? id.slice(3).split(':').filter(Boolean) : [];
}

/** The canonical DM id for these participants: de-duplicated, sorted, the caller included. */
export function dmIdFor(usernames) {
  const names = [...new Set([me, ...usernames].filter(Boolean))].sort();
  return `dm:${names.join(':')}`;
}

/** The password-reset notice conversation `dm:<me>:system`, which cannot be written to. */
export function isReadOnly(id) {
  return kindOf(id) === 'dm' && dmUsers(id).includes('system');
}

/** How a conversation is called in the UI: `general`, a private channel's name, `bob, carol`. */
export function conversationName(id) {
  const kind = kindOf(id);
  if (kind === 'dm') {
    const others = dmUsers(id).filter((u) => u !== me);
    if (others.includes('system')) return 'System notices';
    return others.length ? others.join(', ') : `${me} (you)`;
  }
  const found = findConversation(id);
  if (found) return found.entry.name || id;
  return kind === 'private' ? 'Private channel' : id;
}

function count(entry, key) {
  const n = entry ? Number(entry[key]) : 0;
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function unreadOf(id) {
  return count(findConversation(id)?.entry, 'unread');
}

/**
 * The unread messages of `id` that call for me: those mentioning me, or every unread one in a
 * direct message (which is for its people by nature).
 */
export function mentionsOf(id) {
  const entry = findConversation(id)?.entry;
  return kindOf(id) === 'dm' ? count(entry, 'unread') : count(entry, 'mentions');
}

/** How many messages of `id` are pinned. */
export function pinsOf(id) {
  return count(findConversation(id)?.entry, 'pins');
}

/** The unread messages the tab title counts: those of every conversation not muted. */
export function totalUnread() {
  return conversationOrder().reduce((sum, c) => sum + (levelOf(c.id) === 'muted' ? 0 : unreadOf(c.id)), 0);
}

/** Sets a listed conversation's unread and mention counts (no-op for unlisted ones). */
export function setUnread(id, unread, mentions = 0) {
  const found = findConversation(id);
  if (!found || (unreadOf(id) === unread && count(found.entry, 'mentions') === mentions)) return;
  found.entry.unread = unread;
  found.entry.mentions = mentions;
  publish('channels');
}

/**
 * Counts one more unread message (`mention`: one that mentions me); an unlisted conversation
 * (a new or hidden DM) refetches.
 */
export function addUnread(id, { mention = false } = {}) {
  const found = findConversation(id);
  // The answer of a refresh in flight may have been counted before this message: the list it
  // brings would drop this count, so ask once more after it.
  if (!found || refreshing) {
    refreshChannels();
    if (!found) return;
  }
  found.entry.unread = unreadOf(id) + 1;
  if (mention) found.entry.mentions = count(found.entry, 'mentions') + 1;
  publish('channels');
}

/** Records the pin count a `pins` event announced. */
export function setPins(id, pins) {
  const found = findConversation(id);
  if (!found || pinsOf(id) === pins) return;
  found.entry.pins = pins;
  publish('channels');
}

// Notification choices

/** 'all' | 'mentions' | 'muted': when conversation `id` may alert me. */
export function levelOf(id) {
  const level = choices ? choices.levels[id] : findConversation(id)?.entry.level;
  return level === 'mentions' || level === 'muted' ? level : 'all';
}

/** Whether do-not-disturb silences every alert. */
export function doNotDisturb() {
  return Boolean(choices?.dnd);
}

/** Takes my choices as GET /api/notifications or a `notifications` event has them. */
export function setChoices(value) {
  if (!value || typeof value !== 'object') return;
  const levels = value.levels && typeof value.levels === 'object' ? value.levels : {};
  choices = { dnd: value.dnd === true, levels: { ...levels } };
  publish('choices', choices);
}

/** Records a DM's newest message time so the DM list keeps newest first. */
export function noteDmActivity(id, ts) {
  const index = lists.dms.findIndex((d) => d.id === id);
  if (index < 0 || !(ts > (lists.dms[index].last_ts || 0))) return;
  const [entry] = lists.dms.splice(index, 1);
  entry.last_ts = ts;
  lists.dms.unshift(entry);
  publish('channels');
}

export function currentChannel() {
  return current;
}

/** Opens conversation `id` (listed or not): the URL, then every module hears 'open'. */
export function openConversation(id) {
  if (typeof id !== 'string' || !id) return;
  const hash = `#c/${encodeURIComponent(id)}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
  try {
    localStorage.setItem('minimost.lastChannel', id);
  } catch {
    // Private browsing may refuse storage; the URL still remembers.
  }
  if (id === current) return;
  current = id;
  publish('open', id);
}

/** The conversation the URL or the last visit asks for, if any. */
export function requestedConversation() {
  if (location.hash.startsWith('#c/')) {
    try {
      return decodeURIComponent(location.hash.slice(3));
    } catch {
      return null;
    }
  }
  try {
    return localStorage.getItem('minimost.lastChannel');
  } catch {
    return null;
  }
}

/** Moves `step` conversations down (1) or up (-1) the sidebar, wrapping around. */
export function openNeighbour(step) {
  const order = conversationOrder();
  if (!order.length) return;
  const index = order.findIndex((c) => c.id === current);
  const next = index < 0 ? 0 : (index + step + order.length) % order.length;
  openConversation(order[next].id);
}

window.addEventListener('hashchange', () => {
  const wanted = location.hash.startsWith('#c/') ? requestedConversation() : null;
  if (wanted && wanted !== current) openConversation(wanted);
});
