// Owns the action sheet, how a touch screen acts on a message: a tap or a long press on a
// message opens a sheet anchored to the bottom of the screen with what the desktop toolbar
// offers (quick reactions and the full picker, reply, pin or unpin, edit and delete on one's
// own messages) plus copying the text. Acting, tapping outside it or Esc closes it. While it is open the
// message is highlighted and scrolled clear of the sheet, never under it. The acting itself is
// message-actions.js's; this module only chooses the message and the action.

import * as state from './state.js';
import * as reactions from './reactions.js';
import { view } from './messages.js';
import { startEdit, deleteMessage, toggleReaction, copyText } from './message-actions.js';
import { plainText } from './markdown.js';
import { togglePin, isPinned } from './pins.js';

const LONG_PRESS_MS = 450;
const MOVE_TOLERANCE_PX = 10; // more than this and the finger is scrolling, not tapping
const QUICK_REACTIONS = 6;
const GAP_PX = 8;
const NOTE_MS = 2500;

const scroller = document.getElementById('messages');
const list = document.getElementById('message-list');
const sheet = document.getElementById('action-sheet');
const preview = document.getElementById('action-sheet-preview');
const quick = document.getElementById('action-sheet-reactions');
const note = document.getElementById('action-note');

let messageId = null; // the message the open sheet acts on
let press = null; // {id, x, y, timer}: a touch on a message that may become a tap or long press
let spacer = null; // room below the list, so even the newest message can sit above the sheet
let noteTimer = 0;

function nodeOf(id) {
  return view.nodes.get(`m:${id}`)?.node || null;
}

/** The message a touch on `target` acts on, or null (system notices, edit boxes, controls). */
function touchedMessage(target) {
  if (target.closest('a, button, textarea, input, select, video, audio, label')) return null;
  const node = target.closest('.message');
  if (!node || !list.contains(node) || node.classList.contains('system') || node.classList.contains('editing')) {
    return null;
  }
  const m = view.byId.get(node.dataset.id);
  return m && !m.system && !m.deleted ? m : null;
}

/** Opens the sheet for message `m` (of the open conversation). */
export async function openSheet(m) {
  if (sheet.open) sheet.close();
  messageId = m.id;
  const mine = m.sender === state.myName();
  const readOnly = state.isReadOnly(m.channel);
  const files = m.files?.length ? m.files.map((f) => f.original).join(', ') : '';
  preview.textContent = `${m.sender}: ${plainText(m.text) || files}`;
  sheet.querySelector('[data-sheet="reply"]').hidden = readOnly;
  sheet.querySelector('[data-sheet="pin"] .sheet-action-label').textContent = isPinned(m) ? 'Unpin' : 'Pin';
  sheet.querySelector('[data-sheet="copy"]').hidden = !m.text;
  sheet.querySelector('[data-sheet="edit"]').hidden = !mine;
  sheet.querySelector('[data-sheet="delete"]').hidden = !mine;
  fillQuickReactions(m);
  nodeOf(m.id)?.classList.add('selected');
  sheet.showModal();
  keepClear(m.id);
  // The reaction set may still be loading on a fresh page; the buttons follow when it is in.
  if (!quick.childElementCount) {
    await reactions.loadReactions();
    if (sheet.open && messageId === m.id) fillQuickReactions(m);
  }
}

function fillQuickReactions(m) {
  const mine = state.myName();
  quick.replaceChildren(...reactions.reactionSet().slice(0, QUICK_REACTIONS).map((r) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'sheet-reaction';
    button.dataset.sheet = 'reaction';
    button.dataset.emoji = r.name;
    button.textContent = r.emoji;
    button.setAttribute('aria-label', r.label);
    button.setAttribute('aria-pressed', String((m.reactions?.[r.name] || []).includes(mine)));
    return button;
  }));
}

/** Scrolls the list so that message `id` sits wholly above the sheet (as far as it fits). */
function keepClear(id) {
  const node = nodeOf(id);
  if (!node) return;
  const sheetTop = sheet.getBoundingClientRect().top;
  if (!spacer) {
    spacer = document.createElement('div');
    spacer.className = 'sheet-spacer';
    spacer.setAttribute('aria-hidden', 'true');
  }
  spacer.style.height = `${Math.ceil(window.innerHeight - sheetTop)}px`;
  scroller.append(spacer);
  const rect = node.getBoundingClientRect();
  const top = scroller.getBoundingClientRect().top;
  const overlap = rect.bottom + GAP_PX - sheetTop;
  // A message taller than the room left keeps its start in view.
  if (overlap > 0) scroller.scrollTop += Math.min(overlap, rect.top - top);
}

function closed() {
  if (messageId) nodeOf(messageId)?.classList.remove('selected');
  messageId = null;
  spacer?.remove();
}

/** Says briefly how an action went (the line takes no space while empty). */
function showNote(text) {
  note.textContent = text;
  clearTimeout(noteTimer);
  noteTimer = setTimeout(() => {
    note.textContent = '';
  }, NOTE_MS);
}

function act(button) {
  const m = view.byId.get(messageId);
  const node = m && nodeOf(m.id);
  sheet.close();
  if (!m) return;
  switch (button.dataset.sheet) {
    case 'reaction':
      toggleReaction(m, button.dataset.emoji);
      break;
    case 'more-reactions':
      reactions.openPicker(node?.querySelector('[data-action="react"]') || node || scroller, (name) => toggleReaction(m, name));
      break;
    case 'reply':
      state.publish('reply', m);
      break;
    case 'pin':
      togglePin(m);
      break;
    case 'copy':
      copyText(m.text).then((copied) => showNote(copied ? 'Copied the message text.' : 'Could not copy: the browser refused.'));
      break;
    case 'edit':
      startEdit(m.id);
      break;
    case 'delete':
      deleteMessage(m);
      break;
    default:
  }
}

// A tap outside the sheet (on its backdrop) closes it, as for every dialog (dialogs.js).
sheet.addEventListener('click', (event) => {
  const button = event.target.closest('[data-sheet]');
  if (button) act(button);
});
sheet.addEventListener('close', closed);

// Touches on the list: a tap opens the sheet with its click (opening it earlier would let that
// click land on the sheet), a long press while the finger is still down. Moving the finger
// (scrolling) or the browser taking the touch over cancels a long press.
function cancelPress() {
  if (press) clearTimeout(press.timer);
  press = null;
}

let lastPointer = 'mouse';
let swallowClick = false; // the click that may follow the lifting of a long press

document.addEventListener('pointerdown', (event) => {
  lastPointer = event.pointerType;
  swallowClick = false;
}, true);
document.addEventListener('click', (event) => {
  if (!swallowClick) return;
  swallowClick = false;
  event.preventDefault();
  event.stopPropagation();
}, true);

list.addEventListener('pointerdown', (event) => {
  cancelPress();
  if (event.pointerType !== 'touch' || !event.isPrimary) return;
  const m = touchedMessage(event.target);
  if (!m) return;
  const current = { id: m.id, x: event.clientX, y: event.clientY, timer: 0 };
  current.timer = setTimeout(() => {
    if (press !== current) return;
    press = null;
    const still = view.byId.get(current.id);
    if (!still) return;
    swallowClick = true;
    openSheet(still);
  }, LONG_PRESS_MS);
  press = current;
});
list.addEventListener('pointermove', (event) => {
  if (press && Math.hypot(event.clientX - press.x, event.clientY - press.y) > MOVE_TOLERANCE_PX) cancelPress();
});
list.addEventListener('pointercancel', cancelPress);
list.addEventListener('pointerup', cancelPress);
list.addEventListener('click', (event) => {
  if ((event.pointerType || lastPointer) !== 'touch' || sheet.open) return;
  const m = touchedMessage(event.target);
  if (m) openSheet(m);
});
// A long press would otherwise also open the browser's menu.
list.addEventListener('contextmenu', (event) => {
  if ((press || sheet.open) && touchedMessage(event.target)) event.preventDefault();
});
