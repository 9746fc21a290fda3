// Owns the message box: sending (Enter; Shift+Enter for a new line) with the files waiting in
// attachments.js, replying (the quoted message above the box), a draft per conversation,
// growing with its text, telling others we are typing, the Up arrow that edits our last
// message, and the formatting shortcuts (format-keys.js). Read-only conversations get no box.

import { request, channelUrl, describeError, NetworkError } from './api.js';
import * as state from './state.js';
import { editLast } from './message-actions.js';
import { noteTyping } from './typing.js';
import { plainText } from './markdown.js';
import * as attachments from './attachments.js';
import { handleFormatKey } from './format-keys.js';

const MAX_HEIGHT_PX = 200;

const form = document.getElementById('composer-form');
const box = document.getElementById('composer');
const sendButton = document.getElementById('send');
const errorLine = document.getElementById('composer-error');
const context = document.getElementById('composer-context');
const contextText = document.getElementById('composer-context-text');
const contextCancel = document.getElementById('composer-context-cancel');
const attachButton = document.getElementById('attach');

const drafts = new Map(); // channel id -> {text, replyTo}
let channel = null;
let replyTo = null; // the message being replied to
const sending = new Set(); // channels whose message waits for its uploads

function grow() {
  box.style.height = 'auto';
  box.style.height = `${Math.min(box.scrollHeight, MAX_HEIGHT_PX)}px`;
}

function showReply() {
  context.hidden = !replyTo;
  if (!replyTo) return;
  const snippet = plainText(replyTo.text) || 'a file';
  contextText.textContent = `Replying to ${replyTo.sender}: ${snippet.length > 100 ? `${snippet.slice(0, 100)}…` : snippet}`;
}

function setReply(m) {
  replyTo = m;
  showReply();
}

/** Cancels the reply being written; false when there was none. */
export function cancelReply() {
  if (!replyTo) return false;
  setReply(null);
  box.focus();
  return true;
}

export function focus() {
  if (!box.disabled) box.focus();
}

function setReadOnly(readOnly) {
  box.disabled = readOnly;
  sendButton.disabled = readOnly;
  attachButton.disabled = readOnly;
  form.classList.toggle('read-only', readOnly);
  box.placeholder = readOnly
    ? 'This conversation is read-only.'
    : `Message ${state.kindOf(channel) === 'public' ? '#' : ''}${state.conversationName(channel)}`;
}

function switchTo(id) {
  if (channel) drafts.set(channel, { text: box.value, replyTo });
  channel = id;
  const draft = drafts.get(id);
  box.value = draft?.text || '';
  setReply(draft?.replyTo || null);
  errorLine.textContent = '';
  setReadOnly(state.isReadOnly(id));
  grow();
}

async function send() {
  const text = box.value;
  const target = channel;
  const withFiles = attachments.count(target) > 0;
  if (!target || box.disabled || (!text.trim() && !withFiles)) return;
  if (sending.has(target)) {
    // Sent now, this message would overtake the one still waiting for its files.
    errorLine.textContent = 'Wait a moment: the last message is still uploading its files.';
    return;
  }
  const parent = replyTo;
  const body = { text };
  if (parent) body.reply_to = parent.id;
  // Clear at once so the next message can be typed; put the text back if sending fails.
  box.value = '';
  setReply(null);
  grow();
  errorLine.textContent = '';
  let problem = '';
  let batch = null;
  sending.add(target);
  try {
    if (withFiles) {
      const locked = await attachments.lock(target);
      batch = locked.batch;
      if (locked.problem) throw new SendError(locked.problem);
      body.files = locked.names;
    }
    const result = await request('POST', channelUrl(target, '/messages'), body);
    if (result.ok && result.data) {
      if (batch) attachments.discard(target, batch);
      // A new DM is created under its canonical id, which may differ from what we opened.
      if (result.data.channel && result.data.channel !== target && state.currentChannel() === target) {
        state.openConversation(result.data.channel);
      }
      if (!state.findConversation(result.data.channel)) state.refreshChannels();
      return;
    }
    if (result.status === 401) location.replace('/login');
    problem = describeError(result);
  } catch (err) {
    if (err instanceof SendError || err instanceof NetworkError) problem = err.message;
    else problem = 'Could not send the message.';
  } finally {
    sending.delete(target);
  }
  if (batch) attachments.unlock(batch);
  if (channel === target) {
    if (!box.value) {
      box.value = text;
      setReply(parent);
      grow();
    }
    errorLine.textContent = `Not sent: ${problem}`;
  } else {
    drafts.set(target, { text, replyTo: parent });
  }
}

class SendError extends Error {}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  send();
  box.focus();
});

box.addEventListener('keydown', (event) => {
  if (handleFormatKey(event, box)) return;
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    send();
  } else if (event.key === 'ArrowUp' && !box.value && !event.shiftKey && !event.altKey && !event.ctrlKey) {
    if (editLast()) event.preventDefault();
  } else if (event.key === 'Escape') {
    event.preventDefault();
    if (!cancelReply()) box.blur();
  }
});

box.addEventListener('input', () => {
  grow();
  errorLine.textContent = '';
  if (box.value.trim() && channel) noteTyping(channel);
});

contextCancel.addEventListener('click', cancelReply);

state.subscribe('open', switchTo);
state.subscribe('channels', () => {
  if (channel) setReadOnly(state.isReadOnly(channel));
});
state.subscribe('reply', (m) => {
  if (!m || m.channel !== channel) return;
  setReply(m);
  box.focus();
});
state.subscribe('focus-composer', focus);
