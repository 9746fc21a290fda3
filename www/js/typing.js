// Owns "someone is typing": telling the server (at most every few seconds) while we type, and
// showing who else is typing in the open conversation (#typing) from `typing` events, until
// they send or go quiet.

import { request, channelUrl } from './api.js';
import * as socket from './socket.js';
import * as state from './state.js';
import { nameList } from './message-item.js';

const SEND_EVERY_MS = 3000;
const SHOW_FOR_MS = 6000;

const line = document.getElementById('typing');
const typists = new Map(); // channel -> Map(username -> expiry time)
let lastSent = { channel: null, at: 0 };
let timer = 0;

/** Called on each keystroke in the composer; announces typing now and then. */
export function noteTyping(channel) {
  const now = Date.now();
  if (lastSent.channel === channel && now - lastSent.at < SEND_EVERY_MS) return;
  lastSent = { channel, at: now };
  if (!socket.send({ type: 'typing', channel })) {
    request('POST', channelUrl(channel, '/typing')).catch(() => {});
  }
}

function render() {
  clearTimeout(timer);
  const now = Date.now();
  let next = Infinity;
  for (const [channel, people] of typists) {
    for (const [user, expiry] of people) {
      if (expiry <= now) people.delete(user);
      else next = Math.min(next, expiry);
    }
    if (!people.size) typists.delete(channel);
  }
  const names = [...(typists.get(state.currentChannel())?.keys() || [])].sort();
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length > 1 && names.length <= 3) text = `${nameList(names)} are typing…`;
  else if (names.length > 3) text = 'Several people are typing…';
  if (line.textContent !== text) line.textContent = text;
  if (next !== Infinity) timer = setTimeout(render, next - now + 50);
}

socket.on('typing', (event) => {
  if (typeof event.channel !== 'string' || typeof event.user !== 'string') return;
  if (event.user === state.myName()) return;
  if (!typists.has(event.channel)) typists.set(event.channel, new Map());
  typists.get(event.channel).set(event.user, Date.now() + SHOW_FOR_MS);
  render();
});

socket.on('message', (event) => {
  const m = event.message;
  if (!m) return;
  // Others stop showing us as typing when our message arrives; the next keystroke says so again.
  if (m.sender === state.myName() && lastSent.channel === m.channel) lastSent = { channel: null, at: 0 };
  if (typists.get(m.channel)?.delete(m.sender)) render();
});

state.subscribe('open', render);
