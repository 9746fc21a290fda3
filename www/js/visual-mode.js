// Owns visual mode, the keyboard's way to act on one message (`v`; keyboard.js maps the keys):
// which message is selected (j/k, g/G, loading older pages above the oldest one), the hint line
// under the list (#visual-hint), the action each letter stands for, and leaving the mode on Esc,
// a click elsewhere or a focused text field. It only selects: it never changes a message nor
// draws one (it marks the selected node `.visual` after each render of messages.js), and the
// acting is message-actions.js's, as for the mouse.

import * as state from './state.js';
import * as reactions from './reactions.js';
import { view, loadOlder, onOpen, onRender } from './messages.js';
import { startEdit, deleteMessage, toggleReaction, copyText } from './message-actions.js';
import { togglePin } from './pins.js';

const VISUAL_HELP = 'Visual mode: j/k select · o reply · p pin · c edit · d delete · e react · y copy · Esc leave';

const scroller = document.getElementById('messages');
const list = document.getElementById('message-list');
const visualHint = document.getElementById('visual-hint');

let visualId = null; // the message selected in visual mode
let hintTimer = 0;

function selectable() {
  return view.messages.filter((m) => !m.system);
}

function nodeOf(id) {
  return view.nodes.get(`m:${id}`)?.node || null;
}

export function visualActive() {
  return visualId !== null;
}

/** Enters visual mode on the newest message on screen; false when there is nothing to select. */
export function startVisual() {
  const items = selectable();
  if (!items.length) return false;
  const top = scroller.getBoundingClientRect();
  let onScreen = null;
  for (const m of items) {
    const rect = nodeOf(m.id)?.getBoundingClientRect();
    if (rect && rect.top < top.bottom && rect.bottom > top.top) onScreen = m.id;
  }
  select(onScreen || items[items.length - 1].id);
  showHint(VISUAL_HELP);
  return true;
}

function select(id) {
  for (const node of list.querySelectorAll('.message.visual')) node.classList.remove('visual');
  visualId = id;
  const node = nodeOf(id);
  if (!node) return;
  node.classList.add('visual');
  node.scrollIntoView({ block: 'nearest' });
  node.focus({ preventScroll: true });
}

/** Leaves visual mode; false when it was not on. */
export function endVisual({ refocus = true } = {}) {
  if (visualId === null) return false;
  const node = nodeOf(visualId);
  visualId = null;
  node?.classList.remove('visual');
  clearTimeout(hintTimer);
  visualHint.textContent = '';
  visualHint.hidden = true;
  if (refocus && node?.contains(document.activeElement)) scroller.focus({ preventScroll: true });
  return true;
}

function showHint(text, { brief = false } = {}) {
  clearTimeout(hintTimer);
  visualHint.hidden = false;
  visualHint.textContent = text;
  if (brief) {
    hintTimer = setTimeout(() => {
      if (visualId !== null) visualHint.textContent = VISUAL_HELP;
    }, 2500);
  }
}

/** Moves the selection: 1 down, -1 up, or 'first' / 'last' of what is loaded. */
export async function moveVisual(step) {
  const items = selectable();
  if (!items.length) return;
  let index = items.findIndex((m) => m.id === visualId);
  if (index < 0) index = items.length - 1;
  let next = step === 'first' ? 0 : step === 'last' ? items.length - 1 : index + step;
  if (next < 0 && view.hasMore) {
    // Above the oldest loaded message: fetch the page before it, then step into it.
    const v = view;
    if (!(await loadOlder()) || view !== v || visualId === null) return;
    const again = selectable();
    next = again.findIndex((m) => m.id === visualId) - 1;
    if (next >= 0) select(again[next].id);
    return;
  }
  select(items[Math.max(0, Math.min(items.length - 1, next))].id);
}

/** Acts on the selected message: 'o' reply, 'p' pin or unpin, 'c' edit, 'd' delete, 'e' react, 'y' copy. */
export function visualAction(key) {
  const m = view.byId.get(visualId);
  if (!m) return;
  const mine = m.sender === state.myName();
  const node = nodeOf(m.id);
  switch (key) {
    case 'o':
      endVisual({ refocus: false });
      state.publish('reply', m);
      break;
    case 'p':
      togglePin(m);
      break;
    case 'c':
      if (!mine) {
        showHint('Only your own messages can be edited.', { brief: true });
        return;
      }
      endVisual({ refocus: false });
      startEdit(m.id);
      break;
    case 'd':
      if (!mine) {
        showHint('Only your own messages can be deleted.', { brief: true });
        return;
      }
      endVisual();
      deleteMessage(m);
      break;
    case 'e':
      reactions.openPicker(node?.querySelector('[data-action="react"]') || node, (name) => toggleReaction(m, name));
      break;
    case 'y':
      copyText(m.text).then((copied) => {
        showHint(copied ? 'Copied the message text.' : 'Could not copy: the browser refused.', { brief: true });
      });
      break;
    default:
  }
}

// The list starts over with another conversation, or redraws the selected message: keep the
// selection on its node, or leave visual mode when the message went away.
onOpen(() => endVisual({ refocus: false }));
onRender(() => {
  if (visualId) {
    const selected = view.nodes.get(`m:${visualId}`)?.node;
    if (selected) selected.classList.add('visual');
    else endVisual({ refocus: false }); // the selected message went away
  }
});

// A click elsewhere, or typing in a field, ends visual mode.
document.addEventListener('pointerdown', (event) => {
  if (visualId !== null && !nodeOf(visualId)?.contains(event.target) && !event.target.closest('#reaction-picker')) {
    endVisual({ refocus: false });
  }
}, true);
document.addEventListener('focusin', (event) => {
  const t = event.target;
  if (visualId !== null && (t.tagName === 'TEXTAREA' || (t.tagName === 'INPUT' && t.id !== 'reaction-search'))) {
    endVisual({ refocus: false });
  }
});
