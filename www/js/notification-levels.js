// Owns my notification choices in the web UI: loading them (GET /api/notifications on every
// `hello`) and following the `notifications` event, so a choice made in another tab shows at
// once; the bell menu in the conversation header that sets the open conversation's level
// (All messages, Mentions and DMs, Muted; PUT /api/channels/{ch}/notifications); and the
// do-not-disturb switch of the profile menu (PUT /api/notifications) with its sign on the
// account button. The choices live in state.js; what they silence is notify.js's business.

import { request, channelUrl, describeError } from './api.js';
import * as socket from './socket.js';
import * as state from './state.js';
import { showError } from './dialogs.js';

export const LEVEL_LABELS = { all: 'All messages', mentions: 'Mentions and DMs', muted: 'Muted' };

const bell = document.getElementById('level-button');
const bellLabel = document.getElementById('level-button-label');
const menu = document.getElementById('level-menu');
const dndItem = document.getElementById('toggle-dnd');
const dndState = document.getElementById('dnd-state');
const dndSign = document.getElementById('dnd-sign');

/** Fetches my choices (again after a reconnect: they may have changed meanwhile). */
async function loadChoices() {
  try {
    const result = await request('GET', '/api/notifications');
    if (result.ok) state.setChoices(result.data);
  } catch {
    // The levels in the conversation list stand in until the next hello.
  }
}

/** Sends a change; the answer (and the event every tab hears) carries all my choices. */
async function choose(method, url, body, failure) {
  try {
    const result = await request(method, url, body);
    if (result.ok) state.setChoices(result.data);
    else showError(`${failure}: ${describeError(result)}`);
  } catch (err) {
    showError(`${failure}: ${err.message}`);
  }
}

/** Turns do-not-disturb on or off (the profile menu's item). */
export function toggleDoNotDisturb() {
  const on = !state.doNotDisturb();
  choose('PUT', '/api/notifications', { dnd: on }, 'Could not change do not disturb');
}

// The bell menu

function levelItems() {
  return [...menu.querySelectorAll('[role="menuitemradio"]')];
}

function render() {
  const id = state.currentChannel();
  const level = id ? state.levelOf(id) : 'all';
  bell.dataset.level = level;
  bellLabel.textContent = `Notifications: ${LEVEL_LABELS[level]}`;
  bell.title = `Notifications for this conversation: ${LEVEL_LABELS[level]}`;
  for (const item of levelItems()) item.setAttribute('aria-checked', String(item.dataset.level === level));
  const dnd = state.doNotDisturb();
  dndItem.setAttribute('aria-pressed', String(dnd));
  dndState.textContent = dnd ? 'On' : 'Off';
  dndSign.hidden = !dnd;
}

function openMenu({ focus = 'checked' } = {}) {
  menu.hidden = false;
  bell.setAttribute('aria-expanded', 'true');
  const items = levelItems();
  const target = focus === 'first' ? items[0] : items.find((i) => i.getAttribute('aria-checked') === 'true');
  (target || items[0]).focus();
}

/** Closes the menu; false when it was not open. */
function closeMenu({ restoreFocus = false } = {}) {
  if (menu.hidden) return false;
  menu.hidden = true;
  bell.setAttribute('aria-expanded', 'false');
  if (restoreFocus) bell.focus();
  return true;
}

bell.addEventListener('click', () => {
  if (menu.hidden) openMenu();
  else closeMenu();
});
bell.addEventListener('keydown', (event) => {
  if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && menu.hidden) {
    event.preventDefault();
    openMenu();
  }
});
menu.addEventListener('click', (event) => {
  const item = event.target.closest('[role="menuitemradio"]');
  const id = state.currentChannel();
  if (!item || !id) return;
  closeMenu({ restoreFocus: true });
  if (state.levelOf(id) === item.dataset.level) return;
  choose('PUT', channelUrl(id, '/notifications'), { level: item.dataset.level }, 'Could not change the notifications');
});
menu.addEventListener('keydown', (event) => {
  const items = levelItems();
  const index = items.indexOf(document.activeElement);
  const moves = { ArrowDown: 1, ArrowUp: -1 };
  if (event.key === 'Escape') {
    event.preventDefault();
    event.stopPropagation();
    closeMenu({ restoreFocus: true });
  } else if (event.key in moves) {
    event.preventDefault();
    items[(index + moves[event.key] + items.length) % items.length].focus();
  } else if (event.key === 'Home' || event.key === 'End') {
    event.preventDefault();
    items[event.key === 'Home' ? 0 : items.length - 1].focus();
  } else if (event.key === 'Tab') {
    closeMenu();
  }
});
menu.addEventListener('focusout', (event) => {
  if (event.relatedTarget && !menu.contains(event.relatedTarget) && event.relatedTarget !== bell) closeMenu();
});
document.addEventListener('pointerdown', (event) => {
  if (!menu.hidden && !menu.contains(event.target) && !bell.contains(event.target)) closeMenu();
}, true);

socket.on('hello', loadChoices);
socket.on('notifications', (event) => state.setChoices(event.choices));
state.subscribe('choices', render);
state.subscribe('channels', render);
state.subscribe('open', () => {
  closeMenu();
  render();
});
render();
