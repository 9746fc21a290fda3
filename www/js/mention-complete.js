// Owns the @ autocomplete of the message box and the edit box: typing `@` and part of a name
// lists the people it may mean (names starting with it first, members of the open conversation
// before anyone else, who is marked as not in it) and @everyone, @channel and @here. ↑/↓ move, Enter or Tab picks, Esc
// closes, a click picks. The box keeps the keyboard and points at the highlighted option
// (aria-activedescendant); picking replaces the typed `@…` with `@name ` as if typed, so
// Ctrl+Z undoes it. It only edits the text: sending is the composer's, saving the edit box's.

import * as state from './state.js';
import * as users from './users.js';
import { replaceAsTyped } from './format-keys.js';

const MAX_PEOPLE = 8;
const GAP_PX = 6;
const BROAD = [
  { name: 'everyone', note: 'notifies everyone here' },
  { name: 'channel', note: 'notifies everyone here' },
  { name: 'here', note: 'notifies everyone here' },
];
// `@` at the start or after a non-word character, then the name typed so far, up to the caret.
const TYPED_MENTION = /(?:^|[^\p{L}\p{N}_])@([A-Za-z0-9_-]{0,32})$/u;

const popup = document.getElementById('mention-popup');
const spoken = document.getElementById('mention-status');

let box = null; // the field the open list serves
let start = -1; // where its `@` is
let options = []; // [{name, note, member}]
let active = 0;

function isMentionField(element) {
  return element instanceof HTMLTextAreaElement && (element.id === 'composer' || element.classList.contains('edit-input'));
}

/** The `@name` being typed at the caret of `field`: {start, query}, or null. */
function typedMention(field) {
  const caret = field.selectionStart;
  if (caret !== field.selectionEnd) return null;
  const match = TYPED_MENTION.exec(field.value.slice(0, caret));
  return match ? { start: caret - match[1].length - 1, query: match[1] } : null;
}

/** Who can read the open conversation, or null when everyone can (a public channel). */
function members() {
  const id = state.currentChannel();
  const kind = state.kindOf(id);
  if (kind === 'dm') return new Set(state.dmUsers(id));
  if (kind === 'private') return new Set(state.findConversation(id)?.entry.members || []);
  return null;
}

/**
 * The options for `query`: people whose name starts with it, the broad names that do, then
 * people whose name has it elsewhere; members before others in each group.
 */
function optionsFor(query) {
  const q = query.toLowerCase();
  const me = state.myName();
  const readers = members();
  const scored = [];
  for (const { username } of users.allUsers()) {
    if (username === me || username === 'system') continue;
    const lower = username.toLowerCase();
    const at = lower.indexOf(q);
    if (at < 0) continue;
    const member = !readers || readers.has(username);
    scored.push({ name: username, member, rank: (at === 0 ? 0 : 2) + (member ? 0 : 1) });
  }
  scored.sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }));
  const people = scored.slice(0, MAX_PEOPLE).map(({ name, member, rank }) => ({
    name, rank, note: member ? '' : 'not in this conversation',
  }));
  const broad = BROAD.filter((b) => b.name.startsWith(q)).map((b) => ({ ...b, broad: true }));
  return [...people.filter((p) => p.rank < 2), ...broad, ...people.filter((p) => p.rank >= 2)];
}

function update(field) {
  const typed = typedMention(field);
  if (!typed || field.disabled) {
    close();
    return;
  }
  const found = optionsFor(typed.query);
  if (!found.length) {
    close();
    return;
  }
  if (box && box !== field) close();
  box = field;
  start = typed.start;
  options = found;
  active = 0;
  draw();
}

function draw() {
  popup.replaceChildren(...options.map((option, index) => {
    const item = document.createElement('li');
    item.id = `mention-option-${index}`;
    item.className = 'mention-option';
    item.dataset.index = String(index);
    item.setAttribute('role', 'option');
    if (option.broad) {
      const sign = document.createElement('span');
      sign.className = 'mention-option-sign';
      sign.setAttribute('aria-hidden', 'true');
      sign.textContent = '@';
      item.append(sign);
    } else {
      item.append(users.avatar(option.name, { size: 'tiny', withPresence: true }));
    }
    const name = document.createElement('span');
    name.className = 'mention-option-name';
    name.textContent = option.broad ? `@${option.name}` : option.name;
    item.append(name);
    if (option.note) {
      const note = document.createElement('span');
      note.className = 'mention-option-note';
      note.textContent = option.note;
      item.append(note);
    }
    return item;
  }));
  popup.hidden = false;
  box.setAttribute('aria-autocomplete', 'list');
  box.setAttribute('aria-controls', popup.id);
  spoken.textContent = options.length === 1 ? '1 suggestion' : `${options.length} suggestions`;
  markActive();
  place();
}

function markActive() {
  for (const item of popup.children) item.setAttribute('aria-selected', String(Number(item.dataset.index) === active));
  box.setAttribute('aria-activedescendant', `mention-option-${active}`);
  popup.children[active]?.scrollIntoView({ block: 'nearest' });
}

/** Above the field when there is room (the message box is at the bottom), else below it. */
function place() {
  const rect = box.getBoundingClientRect();
  const width = Math.min(rect.width, popup.offsetWidth || rect.width);
  const height = popup.offsetHeight;
  const above = rect.top - GAP_PX - height >= GAP_PX;
  popup.style.top = `${above ? rect.top - GAP_PX - height : rect.bottom + GAP_PX}px`;
  popup.style.left = `${Math.max(GAP_PX, Math.min(rect.left, window.innerWidth - width - GAP_PX))}px`;
}

function close() {
  if (box) {
    box.removeAttribute('aria-activedescendant');
    box.removeAttribute('aria-controls');
  }
  box = null;
  start = -1;
  options = [];
  if (!popup.hidden) {
    popup.hidden = true;
    popup.replaceChildren();
    spoken.textContent = '';
  }
}

function pick(index) {
  const option = options[index];
  const field = box;
  if (!option || !field?.isConnected) {
    close();
    return;
  }
  const from = start;
  const to = field.selectionStart;
  close();
  replaceAsTyped(field, from, to, `@${option.name} `);
}

document.addEventListener('input', (event) => {
  if (isMentionField(event.target)) update(event.target);
});
// Moving the caret away from the name closes the list, or opens it on another one.
document.addEventListener('keyup', (event) => {
  if (isMentionField(event.target) && ['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) update(event.target);
});
document.addEventListener('click', (event) => {
  if (isMentionField(event.target)) update(event.target);
});
document.addEventListener('focusout', (event) => {
  if (event.target === box) close();
});
// Before the box's own keys (Enter sends, Esc cancels): while the list is open they are its.
document.addEventListener('keydown', (event) => {
  if (!box || event.target !== box || popup.hidden || event.isComposing) return;
  const plain = !event.ctrlKey && !event.metaKey && !event.altKey;
  let handled = true;
  if (event.key === 'ArrowDown' && plain) active = (active + 1) % options.length;
  else if (event.key === 'ArrowUp' && plain) active = (active - 1 + options.length) % options.length;
  else if ((event.key === 'Enter' || event.key === 'Tab') && plain && !event.shiftKey) pick(active);
  else if (event.key === 'Escape') close();
  else handled = false;
  if (!handled) return;
  event.preventDefault();
  event.stopPropagation();
  if (box) markActive();
}, true);

// Picking with the mouse must not take the focus from the box first.
popup.addEventListener('mousedown', (event) => event.preventDefault());
popup.addEventListener('click', (event) => {
  const item = event.target.closest('.mention-option');
  if (item) pick(Number(item.dataset.index));
});
window.addEventListener('resize', close);
// The edit box moves with the list it is in; the list follows it.
document.addEventListener('scroll', () => {
  if (box) place();
}, { capture: true, passive: true });
state.subscribe('open', close);
