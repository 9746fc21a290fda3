// Owns the "Online now" list: on every `hello` it starts from a snapshot of GET /api/users,
// then follows `presence` events (any state but offline counts as online; offline removes).

import { request } from './api.js';
import * as socket from './socket.js';

const STATE_LABELS = { idle: 'idle', hidden: 'away' };

/** Keeps `list` (a <ul>) showing who is online; `empty` is shown while nobody is. */
export function startOnlineList(list, empty) {
  const online = new Map(); // username -> presence state
  let me = '';
  let heardSinceHello = new Set(); // users whose state came from an event, newer than any snapshot
  let generation = 0;

  function render() {
    const names = [...online.keys()].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
    const items = names.map((name) => onlineItem(name, online.get(name), name === me));
    list.replaceChildren(...items);
    empty.hidden = items.length > 0;
  }

  socket.on('hello', async (event) => {
    generation += 1;
    const thisHello = generation;
    me = typeof event.user === 'string' ? event.user : '';
    online.clear();
    heardSinceHello = new Set();
    if (me) online.set(me, 'active');
    render();

    let result;
    try {
      result = await request('GET', '/api/users');
    } catch {
      return; // Presence events still keep the list current.
    }
    if (thisHello !== generation || !result.ok || !Array.isArray(result.data)) return;
    for (const user of result.data) {
      if (!user || typeof user.username !== 'string' || heardSinceHello.has(user.username)) continue;
      if (user.username === me) continue;
      if (typeof user.presence === 'string' && user.presence !== 'offline') {
        online.set(user.username, user.presence);
      }
    }
    render();
  });

  socket.on('presence', (event) => {
    if (typeof event.user !== 'string') return;
    heardSinceHello.add(event.user);
    if (typeof event.state === 'string' && event.state !== 'offline') {
      online.set(event.user, event.state);
    } else {
      online.delete(event.user);
    }
    render();
  });

  // While disconnected the list may be out of date; say so rather than pretend.
  socket.onState((state) => {
    list.classList.toggle('stale', state !== 'connected');
  });

  render();
}

function onlineItem(name, state, isMe) {
  const item = document.createElement('li');
  item.dataset.user = name;
  item.dataset.state = state;

  const dot = document.createElement('span');
  dot.className = 'presence-dot';
  dot.setAttribute('aria-hidden', 'true');

  const label = document.createElement('span');
  label.className = 'online-name';
  label.textContent = name;

  item.append(dot, label);
  if (isMe) item.append(note('(you)'));
  if (STATE_LABELS[state]) item.append(note(STATE_LABELS[state]));
  return item;
}

function note(text) {
  const span = document.createElement('span');
  span.className = 'online-note';
  span.textContent = text;
  return span;
}
