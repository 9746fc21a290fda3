// Owns the directory of people: a snapshot of GET /api/users taken on every `hello` and
// `channels` event (an account deletion shows only as the latter), kept current by `presence`
// and `user` events; and how a person is drawn (name colour, avatar with an initials fallback,
// presence dot). Subscribers hear every change through `onChange`, deletions through
// `onRemoved`.

import { request } from './api.js';
import * as socket from './socket.js';

const directory = new Map(); // username -> user object of /api/users
const presence = new Map(); // username -> 'active' | 'idle' | 'hidden' | 'offline'
const listeners = new Set();
const removedListeners = new Set();
let me = '';
let generation = 0;

// Name colours for people who have not picked one: readable on the dark background.
const PALETTE = ['#6ea8ff', '#5fd38d', '#f2c94c', '#ff8a80', '#c792ea', '#4dd0e1', '#ffab70', '#a5d6a7',
  '#f48fb1', '#90caf9'];

export const PRESENCE_LABELS = { active: 'online', idle: 'idle', hidden: 'away', offline: 'offline' };

/** Calls `handler()` whenever a user or a presence changes. Returns an unsubscribe function. */
export function onChange(handler) {
  listeners.add(handler);
  return () => listeners.delete(handler);
}

/** Calls `handler(usernames)` when accounts disappear from the directory (deleted). */
export function onRemoved(handler) {
  removedListeners.add(handler);
  return () => removedListeners.delete(handler);
}

function changed() {
  for (const handler of [...listeners]) {
    try {
      handler();
    } catch (err) {
      console.error(err);
    }
  }
}

/** Every known user, sorted by name. */
export function allUsers() {
  return [...directory.values()].sort((a, b) => a.username.localeCompare(b.username, undefined, { sensitivity: 'base' }));
}

export function getUser(name) {
  return directory.get(name) || null;
}

/** The registered spelling of `name` (usernames are case-insensitive), or null. */
export function canonicalName(name) {
  const lower = String(name).toLowerCase();
  for (const username of directory.keys()) if (username.toLowerCase() === lower) return username;
  return null;
}

export function presenceOf(name) {
  if (name === me) return 'active';
  return presence.get(name) || 'offline';
}

export function nameColor(name) {
  const user = directory.get(name);
  if (user && typeof user.name_color === 'string' && /^#[0-9a-f]{6}$/i.test(user.name_color)) {
    return user.name_color;
  }
  return defaultColor(name);
}

/** The colour of someone who has not picked one: always the same for the same name. */
export function defaultColor(name) {
  let hash = 0;
  for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

export function initials(name) {
  const parts = String(name).split(/[_\-\s.]+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[1][0] : String(name).slice(0, 2);
  return letters.toUpperCase();
}

/**
 * An avatar for `name`: their picture when they have one, else initials on their colour.
 * With `withPresence`, a dot shows whether they are online (described for screen readers).
 */
export function avatar(name, { size = 'medium', withPresence = false } = {}) {
  const box = document.createElement('span');
  box.className = `avatar avatar-${size}`;
  box.dataset.user = name;
  const user = directory.get(name);
  if (user && typeof user.avatar_url === 'string' && user.avatar_url.startsWith('/')) {
    const img = document.createElement('img');
    img.src = user.avatar_url;
    img.alt = '';
    img.loading = 'lazy';
    img.addEventListener('error', () => img.replaceWith(initialsNode(name)));
    box.append(img);
  } else {
    box.append(initialsNode(name));
    box.style.setProperty('--avatar-color', nameColor(name));
  }
  box.setAttribute('aria-hidden', 'true');
  if (withPresence) box.append(presenceDot(name));
  return box;
}

function initialsNode(name) {
  const span = document.createElement('span');
  span.className = 'avatar-initials';
  span.textContent = name === 'system' ? 'ℹ' : initials(name);
  return span;
}

export function presenceDot(name) {
  const dot = document.createElement('span');
  dot.className = 'presence-dot';
  dot.dataset.state = presenceOf(name);
  return dot;
}

/** Takes a fresh snapshot of GET /api/users; tells `onRemoved` listeners who is gone. */
async function loadDirectory() {
  generation += 1;
  const thisLoad = generation;
  // States heard from events after this request are newer than the snapshot below.
  const heard = new Set();
  const stopListening = socket.on('presence', (e) => heard.add(e.user));
  let result;
  try {
    result = await request('GET', '/api/users');
  } catch {
    stopListening();
    return; // Presence events still keep the directory current.
  }
  stopListening();
  if (thisLoad !== generation || !result.ok || !Array.isArray(result.data)) return;
  const before = new Set(directory.keys());
  directory.clear();
  for (const user of result.data) {
    if (!user || typeof user.username !== 'string') continue;
    directory.set(user.username, user);
    before.delete(user.username);
    if (!heard.has(user.username)) {
      presence.set(user.username, typeof user.presence === 'string' ? user.presence : 'offline');
    }
  }
  for (const name of before) presence.delete(name);
  changed();
  if (before.size) {
    for (const handler of [...removedListeners]) {
      try {
        handler([...before]);
      } catch (err) {
        console.error(err);
      }
    }
  }
}

socket.on('hello', (event) => {
  me = typeof event.user === 'string' ? event.user : me;
  loadDirectory();
});

// The sidebar changed: perhaps because an account was deleted, which no other event tells.
socket.on('channels', () => loadDirectory());

socket.on('presence', (event) => {
  if (typeof event.user !== 'string') return;
  // Someone who signed up after our snapshot.
  if (!directory.has(event.user)) directory.set(event.user, { username: event.user });
  presence.set(event.user, typeof event.state === 'string' ? event.state : 'offline');
  changed();
});

socket.on('user', (event) => {
  const user = event.user;
  if (!user || typeof user.username !== 'string') return;
  directory.set(user.username, { ...directory.get(user.username), ...user });
  if (typeof user.presence === 'string') presence.set(user.username, user.presence);
  changed();
});
