// Owns presence as this page shows and reports it: the "Online now" list in the sidebar (drawn
// from the directory in users.js; a name opens a DM with that person), and telling the server
// when this tab is hidden or its user has been idle for a while.

import * as socket from './socket.js';
import * as users from './users.js';
import * as state from './state.js';

const IDLE_AFTER_MS = 5 * 60 * 1000;
const STATE_NOTES = { idle: 'idle', hidden: 'away' };

/** Keeps `list` (a <ul>) showing who is online; `empty` is shown while nobody is. */
export function startOnlineList(list, empty) {
  function render() {
    const me = state.myName();
    const names = users.allUsers()
      .map((u) => u.username)
      .filter((name) => name !== me && users.presenceOf(name) !== 'offline');
    if (me) names.push(me);
    names.sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
    list.replaceChildren(...names.map((name) => onlineItem(name, users.presenceOf(name), name === me)));
    empty.hidden = names.length > 0;
  }

  users.onChange(render);
  state.subscribe('me', render);
  // While disconnected the list may be out of date; say so rather than pretend.
  socket.onState((connection) => list.classList.toggle('stale', connection !== 'connected'));
  render();
}

function onlineItem(name, presence, isMe) {
  const item = document.createElement('li');
  item.dataset.user = name;
  item.dataset.state = presence;

  const label = document.createElement('span');
  label.className = 'online-name';
  label.textContent = name;
  label.style.setProperty('--name-color', users.nameColor(name));

  let target = item;
  if (!isMe) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'online-button';
    button.title = `Message ${name}`;
    button.addEventListener('click', () => state.openConversation(state.dmIdFor([name])));
    item.append(button);
    target = button;
  }
  target.append(users.avatar(name, { size: 'small', withPresence: true }), label);
  if (isMe) target.append(note('(you)'));
  if (STATE_NOTES[presence]) target.append(note(STATE_NOTES[presence]));
  return item;
}

function note(text) {
  const span = document.createElement('span');
  span.className = 'online-note';
  span.textContent = text;
  return span;
}

// Reporting this tab's state: hidden beats idle beats active.
let lastActivity = Date.now();
let reported = 'active';

function currentState() {
  if (document.visibilityState === 'hidden') return 'hidden';
  return Date.now() - lastActivity > IDLE_AFTER_MS ? 'idle' : 'active';
}

function report({ force = false } = {}) {
  const next = currentState();
  if (next === reported && !force) return;
  if (socket.send({ type: 'presence', state: next })) reported = next;
}

function noteActivity() {
  lastActivity = Date.now();
  if (reported === 'idle') report();
}

for (const type of ['keydown', 'pointerdown', 'wheel', 'touchstart']) {
  window.addEventListener(type, noteActivity, { passive: true, capture: true });
}
let lastMove = 0;
window.addEventListener('pointermove', () => {
  // Mouse moves come in floods; a few a minute are enough to know someone is there.
  if (Date.now() - lastMove < 10000) return;
  lastMove = Date.now();
  noteActivity();
}, { passive: true });
document.addEventListener('visibilitychange', () => report());
setInterval(report, 30000);
// A new connection starts out active on the server; tell it otherwise if we are not.
socket.on('hello', () => {
  reported = 'active';
  if (currentState() !== 'active') report({ force: true });
});
