// Owns pins in the web UI: which messages of the open conversation are pinned (GET
// /api/channels/{ch}/pins when it opens and on every `pins` event for it; the list marks them),
// pinning and unpinning a message (the toolbar, the action sheet and visual mode call
// `togglePin`), the pin count in the conversation header (hidden at 0, kept by `pins` events
// for every conversation), and the pins panel that count opens: the pinned messages, most
// recently pinned first, with who pinned them, a jump to each and Unpin, refreshed live.

import { request, channelUrl, describeError } from './api.js';
import * as socket from './socket.js';
import * as state from './state.js';
import * as users from './users.js';
import { view, render, showMessage } from './messages.js';
import { validMessage } from './message-model.js';
import { openDialog, showError } from './dialogs.js';
import { formatWhen, previewText, timeElement } from './markdown.js';

const SNIPPET_CHARS = 200;

const countButton = document.getElementById('pins-button');
const countText = document.getElementById('pins-count');
const dialog = document.getElementById('pins-dialog');
const where = document.getElementById('pins-where');
const status = document.getElementById('pins-status');
const pinList = document.getElementById('pins-list');

let pins = []; // the open conversation's pinned messages, most recently pinned first
let pinsChannel = null; // the conversation `pins` belongs to
let problem = ''; // why the list could not be loaded
let asked = 0; // the number of the latest request, so a slow answer cannot replace a newer one

/** Fetches the pinned messages of `channel` (the open conversation) and shows them. */
async function loadPins(channel) {
  asked += 1;
  const mine = asked;
  let result;
  try {
    result = await request('GET', channelUrl(channel, '/pins'));
  } catch (err) {
    result = { ok: false, error: err.message };
  }
  if (mine !== asked || state.currentChannel() !== channel) return;
  if (result.ok && Array.isArray(result.data)) {
    pins = result.data.filter(validMessage);
    problem = '';
    state.setPins(channel, pins.length);
  } else {
    pins = [];
    problem = result.error || describeError(result);
  }
  pinsChannel = channel;
  markInList();
  renderPanel();
}

/** Gives the list the pinned ids of its conversation, redrawing what changed. */
function markInList() {
  if (view.channel !== pinsChannel) return;
  view.pinned = new Set(pins.map((m) => m.id));
  if (view.loaded) render();
}

/** Pins message `m`, or unpins it when it is pinned; resolves to whether that worked. */
export async function togglePin(m) {
  const pinned = isPinned(m);
  const url = channelUrl(m.channel, `/messages/${encodeURIComponent(m.id)}/pin`);
  const failure = pinned ? 'Could not unpin the message' : 'Could not pin the message';
  try {
    const result = await request(pinned ? 'DELETE' : 'POST', url);
    if (!result.ok) {
      showError(`${failure}: ${describeError(result)}`);
      return false;
    }
    if (typeof result.data?.count === 'number') state.setPins(m.channel, result.data.count);
    if (view.channel === m.channel) {
      if (result.data?.pinned) view.pinned.add(m.id);
      else view.pinned.delete(m.id);
      render();
    }
    return true;
  } catch (err) {
    showError(`${failure}: ${err.message}`);
    return false;
  }
}

/** Whether message `m` of the open conversation is pinned. */
export function isPinned(m) {
  return view.channel === m.channel && view.pinned.has(m.id);
}

// The header's count

function renderCount() {
  const id = state.currentChannel();
  const count = id ? state.pinsOf(id) : 0;
  countButton.hidden = count === 0;
  countText.textContent = String(count);
  const label = count === 1 ? '1 pinned message' : `${count} pinned messages`;
  countButton.setAttribute('aria-label', label);
  countButton.title = `${label}: show them`;
}

// The panel

function openPanel() {
  const id = state.currentChannel();
  if (!id) return;
  where.textContent = `${state.kindOf(id) === 'public' ? '#' : ''}${state.conversationName(id)}`;
  renderPanel();
  openDialog(dialog, dialog.querySelector('[data-close]'));
  loadPins(id);
}

function renderPanel() {
  if (!dialog.open) return;
  if (problem) status.textContent = `Could not load the pinned messages: ${problem}`;
  else if (pinsChannel !== state.currentChannel()) status.textContent = 'Loading…';
  else if (!pins.length) status.textContent = 'Nothing is pinned here. Pin a message from its actions to keep it at hand.';
  else status.textContent = pins.length === 1 ? '1 pinned message' : `${pins.length} pinned messages`;
  // Keep the keyboard where it was when the list is redrawn under it.
  const focused = pinList.contains(document.activeElement) ? document.activeElement : null;
  const focusKey = focused && `[data-id="${CSS.escape(focused.dataset.id || '')}"]${focused.dataset.unpin ? '[data-unpin]' : '.pin-jump'}`;
  pinList.replaceChildren(...(pinsChannel === state.currentChannel() ? pins : []).map(pinItem));
  if (focused && !focused.isConnected) {
    (pinList.querySelector(focusKey) || pinList.querySelector('button') || dialog.querySelector('[data-close]')).focus();
  }
}

function pinItem(m) {
  const li = document.createElement('li');
  li.className = 'pin-item';
  const jump = document.createElement('button');
  jump.type = 'button';
  jump.className = 'search-result pin-jump';
  jump.dataset.id = m.id;
  const head = document.createElement('span');
  head.className = 'pin-head';
  const who = document.createElement('span');
  who.className = 'pin-sender';
  who.textContent = m.sender;
  who.style.setProperty('--name-color', users.nameColor(m.sender));
  head.append(who, timeElement(m.ts, 'pin-time muted'));
  const text = document.createElement('span');
  text.className = 'pin-text';
  text.textContent = previewText(m, SNIPPET_CHARS);
  const by = document.createElement('span');
  by.className = 'pin-by muted';
  const pinnedBy = typeof m.pinned_by === 'string' ? m.pinned_by : '';
  const pinnedAt = typeof m.pinned_ts === 'number' ? ` · ${formatWhen(m.pinned_ts)}` : '';
  by.textContent = `Pinned by ${pinnedBy === state.myName() ? 'you' : pinnedBy || 'someone'}${pinnedAt}`;
  jump.append(head, text, by);
  jump.title = 'Show it in the conversation';
  const unpin = document.createElement('button');
  unpin.type = 'button';
  unpin.className = 'button button-secondary button-small pin-unpin';
  unpin.dataset.id = m.id;
  unpin.dataset.unpin = 'true';
  unpin.textContent = 'Unpin';
  unpin.setAttribute('aria-label', `Unpin ${m.sender}'s message`);
  li.append(jump, unpin);
  return li;
}

pinList.addEventListener('click', (event) => {
  const button = event.target.closest('button');
  const m = button && pins.find((p) => p.id === button.dataset.id);
  if (!m) return;
  if (button.dataset.unpin) {
    button.disabled = true;
    togglePin({ ...m, channel: pinsChannel }).then((done) => {
      if (!done) button.disabled = false;
    });
    return;
  }
  dialog.close();
  showMessage(pinsChannel, m.id);
});

countButton.addEventListener('click', openPanel);

socket.on('pins', (event) => {
  if (typeof event.channel !== 'string' || typeof event.count !== 'number') return;
  state.setPins(event.channel, event.count);
  if (event.channel === state.currentChannel()) loadPins(event.channel);
});
socket.on('hello', () => {
  // After a reconnect, pins may have changed unheard.
  const id = state.currentChannel();
  if (id) loadPins(id);
});
state.subscribe('open', (id) => {
  pins = [];
  pinsChannel = null;
  problem = '';
  if (dialog.open) dialog.close();
  renderCount();
  loadPins(id);
});
state.subscribe('channels', renderCount);
