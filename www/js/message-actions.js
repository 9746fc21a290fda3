// Owns the actions on a message of the open conversation: reacting, replying (a 'reply'
// request to the composer), pinning and unpinning it (pins.js), editing it in place (the edit box: Enter saves, Esc cancels, an
// emptied text deletes, the formatting shortcuts work), deleting it (after a confirmation that
// Shift-click skips), copying its text, jumping to the message it replies to and viewing its
// picture; clicks in the list reach them by delegation through `data-action` attributes.
// Visual mode (the keyboard) and the action sheet (touch screens) call the same actions. It
// changes the list only through the model (upsert, then render): it never builds a message's
// DOM nor keeps messages.

import { request, channelUrl, describeError } from './api.js';
import * as state from './state.js';
import * as reactions from './reactions.js';
import { confirmAction, showError } from './dialogs.js';
import { showImage } from './lightbox.js';
import { upsert, validMessage } from './message-model.js';
import { view, render, jumpTo } from './messages.js';
import { handleFormatKey } from './format-keys.js';
import { togglePin } from './pins.js';

const list = document.getElementById('message-list');

/** Adds my reaction `name` to message `m`, or takes it back. */
export async function toggleReaction(m, name) {
  try {
    const result = await request('POST', channelUrl(m.channel, `/messages/${encodeURIComponent(m.id)}/reactions`), { emoji: name });
    if (!result.ok) {
      showError(`Could not react: ${describeError(result)}`);
      return;
    }
    const current = view.byId.get(m.id);
    if (current && result.data && result.data.reactions) {
      upsert(view, { ...current, reactions: result.data.reactions });
      render();
    }
  } catch (err) {
    showError(`Could not react: ${err.message}`);
  }
}

/** Deletes message `m` for everyone, after a confirmation unless `skipConfirm`. */
export async function deleteMessage(m, { skipConfirm = false } = {}) {
  if (!skipConfirm) {
    const confirmed = await confirmAction({
      title: 'Delete message?',
      text: 'The message will be removed for everyone in this conversation. This cannot be undone.',
      confirmLabel: 'Delete',
    });
    if (!confirmed) return;
  }
  try {
    const result = await request('DELETE', channelUrl(m.channel, `/messages/${encodeURIComponent(m.id)}`));
    if (!result.ok) {
      showError(`Could not delete the message: ${describeError(result)}`);
      return;
    }
    if (view.channel === m.channel) {
      upsert(view, { ...m, deleted: true, text: '', files: [] });
      render();
    }
  } catch (err) {
    showError(`Could not delete the message: ${err.message}`);
  }
}

/** Starts editing message `id` in place (mine only). */
export function startEdit(id) {
  const m = view.byId.get(id);
  if (!m || m.sender !== state.myName() || m.system) return false;
  view.editing = { id, draft: m.text, error: '', focus: true };
  render();
  view.nodes.get(`m:${id}`)?.node.scrollIntoView({ block: 'nearest' });
  return true;
}

/** Edits my newest message in this conversation (the Up arrow in an empty composer). */
export function editLast() {
  const me = state.myName();
  for (let i = view.messages.length - 1; i >= 0; i -= 1) {
    const m = view.messages[i];
    if (m.sender === me && !m.system) return startEdit(m.id);
  }
  return false;
}

/** Leaves edit mode; returns false when nothing was being edited. */
export function cancelEdit() {
  if (!view.editing) return false;
  view.editing = null;
  render();
  state.publish('focus-composer');
  return true;
}

async function saveEdit() {
  const v = view;
  const editing = v.editing;
  if (!editing) return;
  const m = v.byId.get(editing.id);
  if (!m) return cancelEdit();
  const text = editing.draft;
  if (text === m.text) return cancelEdit();
  if (!text.trim()) {
    cancelEdit();
    deleteMessage(m);
    return;
  }
  try {
    const result = await request('PATCH', channelUrl(m.channel, `/messages/${encodeURIComponent(m.id)}`), { text });
    if (view !== v || v.editing !== editing) return;
    if (!result.ok) {
      editing.error = describeError(result);
      render();
      return;
    }
    if (validMessage(result.data)) upsert(v, result.data);
    v.editing = null;
    render();
    state.publish('focus-composer');
  } catch (err) {
    editing.error = err.message;
    render();
  }
}

/** Copies `text` to the clipboard; false when the browser refuses. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

// The buttons of every message and its edit box, by delegation from the list.

list.addEventListener('click', (event) => {
  const target = event.target.closest('[data-action]');
  if (!target || !list.contains(target)) return;
  const element = target.closest('.message');
  const m = element && view.byId.get(element.dataset.id);
  if (!m) return;
  switch (target.dataset.action) {
    case 'react':
      reactions.openPicker(target, (name) => toggleReaction(m, name));
      break;
    case 'toggle-reaction':
      toggleReaction(m, target.dataset.emoji);
      break;
    case 'reply':
      state.publish('reply', m);
      break;
    case 'pin':
      togglePin(m);
      break;
    case 'edit':
      startEdit(m.id);
      break;
    case 'delete':
      deleteMessage(m, { skipConfirm: event.shiftKey });
      break;
    case 'cancel-edit':
      cancelEdit();
      break;
    case 'jump':
      jumpTo(target.dataset.parent);
      break;
    case 'view-image':
      // Ctrl/Cmd/Shift-click and the middle button keep their usual meaning (a new tab).
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      showImage(target.getAttribute('href'), target.dataset.name || 'Image', target);
      break;
    default:
  }
});

list.addEventListener('input', (event) => {
  if (event.target.classList.contains('edit-input') && view.editing) {
    view.editing.draft = event.target.value;
  }
});
list.addEventListener('submit', (event) => {
  if (!event.target.classList.contains('edit-form')) return;
  event.preventDefault();
  saveEdit();
});
list.addEventListener('keydown', (event) => {
  if (!event.target.classList.contains('edit-input')) return;
  if (handleFormatKey(event, event.target)) return;
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    saveEdit();
  } else if (event.key === 'Escape') {
    event.preventDefault();
    event.stopPropagation();
    cancelEdit();
  }
});
