// Owns how one message and the list's dividers (dates, and "New" above the first unread
// message) look: builds their DOM from a message object and what the list knows around it
// (group head or not, the replied-to message, read receipts, pinned or not, whether it
// mentions me, whether it is being edited). Pure construction: no requests, no state, no listeners — the
// list's clicks reach message-actions.js by delegation through `data-action` attributes.

import * as users from './users.js';
import * as reactions from './reactions.js';
import { renderMarkdown, plainText } from './markdown.js';
import { icon } from './icons.js';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric', year: 'numeric' });
// Who a soft-deleted account's messages are shown as sent by.
export const DELETED_USER = 'Deleted User';
const sizeFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

/** A calendar day in local time, e.g. "2026-11-24": messages of one day share a divider. */
export function dayKey(ts) {
  const d = new Date(ts * 1000);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** "Today", "Yesterday", or the full date. */
export function dayLabel(ts) {
  const key = dayKey(ts);
  const now = Date.now() / 1000;
  if (key === dayKey(now)) return 'Today';
  if (key === dayKey(now - 86400)) return 'Yesterday';
  return dayFormat.format(new Date(ts * 1000));
}

export function dateDivider(ts) {
  const divider = document.createElement('div');
  divider.className = 'date-divider';
  divider.setAttribute('role', 'separator');
  divider.setAttribute('aria-label', dayLabel(ts));
  const label = document.createElement('span');
  label.textContent = dayLabel(ts);
  divider.append(label);
  return divider;
}

/** The line above the first message that was unread when the conversation opened. */
export function newDivider() {
  const divider = document.createElement('div');
  divider.className = 'new-divider';
  divider.setAttribute('role', 'separator');
  divider.setAttribute('aria-label', 'New messages');
  const label = document.createElement('span');
  label.textContent = 'New';
  divider.append(label);
  return divider;
}

export function formatSize(bytes) {
  if (!(bytes >= 0)) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${sizeFormat.format(bytes / 1024)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${sizeFormat.format(bytes / 1024 / 1024)} MB`;
  return `${sizeFormat.format(bytes / 1024 / 1024 / 1024)} GB`;
}

/** "bob", "bob and carol", "bob, carol and 3 others". */
export function nameList(names) {
  if (names.length <= 1) return names.join('');
  if (names.length <= 3) return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  return `${names.slice(0, 2).join(', ')} and ${names.length - 2} others`;
}

/**
 * Builds the element of message `m`. `context`: {me, head, parent (message|null),
 * parentState ('found'|'deleted'|'unavailable'|'unknown'), readers (array, for my messages),
 * showReceipt (the latest of my messages), editing ({draft, error}|null), pinned,
 * mentionsMe}.
 */
export function messageElement(m, context) {
  const { me, head } = context;
  const element = document.createElement('article');
  element.className = 'message';
  element.dataset.id = m.id;
  element.dataset.sender = m.sender;
  element.tabIndex = -1;
  if (m.system) {
    element.classList.add('system');
    element.append(systemLine(m));
    return element;
  }
  const mine = m.sender === me;
  element.classList.add(head ? 'message-head' : 'message-continued');
  if (mine) element.classList.add('mine');
  if (context.editing) element.classList.add('editing');
  if (context.mentionsMe) element.classList.add('mentions-me');
  if (context.pinned) element.classList.add('pinned');

  const gutter = document.createElement('div');
  gutter.className = 'message-gutter';
  if (head) gutter.append(users.avatar(m.sender));
  else gutter.append(timeElement(m.ts, 'message-time message-time-hover'));

  const body = document.createElement('div');
  body.className = 'message-body';
  body.append(meta(m, head));
  if (context.pinned) body.append(pinMarker());
  if (m.reply_to) body.append(replyQuote(m, context));
  if (context.editing) body.append(editForm(context.editing));
  else if (m.text) {
    const text = document.createElement('div');
    text.className = 'message-text';
    text.append(renderMarkdown(m.text, mentionOptions(m, me)));
    body.append(text);
  }
  if (Array.isArray(m.files) && m.files.length) body.append(fileList(m.files));
  const footer = messageFooter(m, context, mine);
  if (footer) body.append(footer);
  const chips = reactionChips(m, me);
  if (chips) body.append(chips);

  element.append(gutter, body);
  if (!context.editing) element.append(actions(mine, context.pinned));
  return element;
}

/**
 * How the text's @names are drawn: the people the server found mentioned (or, for older
 * messages without that list, anyone registered) as chips; mine and the broad ones
 * (@everyone, @channel, @here) stronger, unless I sent the message.
 */
function mentionOptions(m, me) {
  const named = new Set((Array.isArray(m.mentions) ? m.mentions : []).map((n) => String(n).toLowerCase()));
  return {
    isUser: (name) => named.has(name.toLowerCase()) || users.canonicalName(name) !== null,
    isMe: (name) => name.toLowerCase() === me.toLowerCase(),
    broadIsMe: m.sender !== me,
  };
}

function pinMarker() {
  const marker = document.createElement('div');
  marker.className = 'pin-marker';
  marker.append(icon('pin'), 'Pinned');
  return marker;
}

function timeElement(ts, className) {
  const time = document.createElement('time');
  time.className = className;
  const date = new Date(ts * 1000);
  time.dateTime = date.toISOString();
  time.textContent = timeFormat.format(date);
  time.title = fullFormat.format(date);
  return time;
}

function meta(m, head) {
  const line = document.createElement('div');
  // A continued message repeats the sender only for screen readers.
  line.className = head ? 'message-meta' : 'message-meta visually-hidden';
  const sender = document.createElement('span');
  sender.className = 'message-sender';
  sender.textContent = m.sender;
  sender.style.setProperty('--name-color', users.nameColor(m.sender));
  if (m.sender === DELETED_USER) sender.classList.add('deleted-user');
  line.append(sender, timeElement(m.ts, 'message-time'));
  return line;
}

function systemLine(m) {
  const line = document.createElement('div');
  line.className = 'system-line';
  const icon = document.createElement('span');
  icon.className = 'system-icon';
  icon.setAttribute('aria-hidden', 'true');
  icon.textContent = 'ℹ';
  const sender = document.createElement('span');
  sender.className = 'message-sender visually-hidden';
  sender.textContent = 'Notice:';
  const text = document.createElement('span');
  text.className = 'message-text';
  text.textContent = m.text;
  line.append(icon, sender, text, timeElement(m.ts, 'message-time'));
  return line;
}

function replyQuote(m, { parent, parentState }) {
  const quote = document.createElement('button');
  quote.type = 'button';
  quote.className = 'reply-quote';
  quote.dataset.action = 'jump';
  quote.dataset.parent = m.reply_to;
  quote.dataset.focus = 'quote';
  const arrow = document.createElement('span');
  arrow.className = 'reply-arrow';
  arrow.setAttribute('aria-hidden', 'true');
  arrow.textContent = '↪';
  quote.append(arrow);
  if (parentState === 'found' && parent) {
    const who = document.createElement('span');
    who.className = 'reply-sender';
    who.textContent = parent.sender;
    who.style.setProperty('--name-color', users.nameColor(parent.sender));
    const snippet = document.createElement('span');
    snippet.className = 'reply-snippet';
    const text = plainText(parent.text) || (parent.files?.length ? `📎 ${parent.files[0].original}` : '');
    snippet.textContent = text.length > 120 ? `${text.slice(0, 120)}…` : text;
    quote.append(who, snippet);
    quote.setAttribute('aria-label', `Reply to ${parent.sender}: ${snippet.textContent}. Show the original.`);
  } else {
    const note = document.createElement('span');
    note.className = 'reply-snippet muted';
    note.textContent = {
      deleted: 'Original message was deleted',
      unavailable: 'Original message is unavailable',
    }[parentState] || 'Reply to an earlier message';
    quote.append(note);
    if (parentState === 'deleted' || parentState === 'unavailable') quote.disabled = true;
  }
  return quote;
}

function editForm({ draft, error }) {
  const form = document.createElement('form');
  form.className = 'edit-form';
  form.noValidate = true;
  const area = document.createElement('textarea');
  area.className = 'edit-input';
  area.dataset.focus = 'edit';
  area.value = draft;
  area.rows = Math.min(10, Math.max(1, draft.split('\n').length));
  area.maxLength = 10000;
  area.setAttribute('aria-label', 'Edit message');
  const problem = document.createElement('div');
  problem.className = 'edit-error';
  problem.setAttribute('role', 'alert');
  problem.textContent = error || '';
  const buttons = document.createElement('div');
  buttons.className = 'edit-buttons';
  const hint = document.createElement('span');
  hint.className = 'muted edit-hint';
  hint.textContent = 'Enter to save · Esc to cancel';
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'button button-secondary button-small';
  cancel.dataset.action = 'cancel-edit';
  cancel.textContent = 'Cancel';
  const save = document.createElement('button');
  save.type = 'submit';
  save.className = 'button button-small edit-save';
  save.textContent = 'Save';
  buttons.append(hint, cancel, save);
  form.append(area, problem, buttons);
  return form;
}

function fileList(files) {
  const box = document.createElement('div');
  box.className = 'message-files';
  for (const file of files) {
    if (!file || typeof file.name !== 'string') continue;
    const name = typeof file.original === 'string' && file.original ? file.original : file.name;
    const url = typeof file.url === 'string' && file.url.startsWith('/') ? file.url : '';
    if (file.gone || !url) {
      const gone = document.createElement('div');
      gone.className = 'file-card file-gone';
      const label = document.createElement('span');
      label.className = 'file-gone-label';
      label.textContent = 'File deleted';
      const original = document.createElement('span');
      original.className = 'file-name muted';
      original.textContent = name;
      gone.append(label, original);
      box.append(gone);
    } else if (file.image) {
      const link = document.createElement('a');
      link.className = 'file-image';
      link.href = url;
      link.target = '_blank';
      link.rel = 'noopener';
      link.dataset.action = 'view-image';
      link.dataset.name = name;
      link.dataset.focus = `file:${file.name}`;
      link.title = `${name} — view full size`;
      link.setAttribute('aria-label', `Image ${name}: view full size`);
      const img = document.createElement('img');
      img.src = url;
      img.alt = name;
      img.loading = 'lazy';
      link.append(img);
      box.append(link);
    } else {
      const card = document.createElement('a');
      card.className = 'file-card';
      card.href = url;
      card.download = name;
      card.dataset.focus = `file:${file.name}`;
      card.title = `Download ${name}`;
      const symbol = icon('file');
      symbol.classList.add('file-icon');
      const label = document.createElement('span');
      label.className = 'file-name';
      label.textContent = name;
      const size = document.createElement('span');
      size.className = 'file-size muted';
      size.textContent = formatSize(file.size);
      card.append(symbol, label, size);
      box.append(card);
    }
  }
  return box;
}

function messageFooter(m, { readers = [], showReceipt }, mine) {
  const parts = [];
  if (m.edited_ts) {
    const edited = document.createElement('span');
    edited.className = 'message-edited';
    edited.textContent = '(edited)';
    edited.title = `Edited ${fullFormat.format(new Date(m.edited_ts * 1000))}`;
    parts.push(edited);
  }
  if (mine) {
    const receipt = document.createElement('span');
    receipt.className = `message-receipt${readers.length ? ' read' : ''}${showReceipt ? '' : ' compact'}`;
    const read = readers.length ? `Read by ${nameList(readers)}` : 'Sent';
    receipt.title = readers.length ? `Read by ${readers.join(', ')}` : 'Sent';
    receipt.textContent = showReceipt ? `✓ ${read}` : '✓';
    if (!showReceipt) receipt.setAttribute('aria-label', read);
    parts.push(receipt);
  }
  if (!parts.length) return null;
  const footer = document.createElement('div');
  footer.className = 'message-footer';
  footer.append(...parts);
  return footer;
}

function reactionChips(m, me) {
  const entries = Object.entries(m.reactions || {}).filter(([, who]) => Array.isArray(who) && who.length);
  if (!entries.length) return null;
  const box = document.createElement('div');
  box.className = 'reactions';
  box.setAttribute('role', 'group');
  box.setAttribute('aria-label', 'Reactions');
  for (const [name, who] of entries) {
    const chip = document.createElement('button');
    chip.type = 'button';
    chip.className = 'reaction';
    chip.dataset.emoji = name;
    chip.dataset.action = 'toggle-reaction';
    chip.dataset.focus = `reaction:${name}`;
    const reacted = who.includes(me);
    chip.setAttribute('aria-pressed', String(reacted));
    const label = reactions.labelFor(name);
    const names = who.map((u) => (u === me ? 'you' : u));
    chip.title = `${label} — ${nameList(names)}`;
    chip.setAttribute('aria-label', `${label}: ${who.length}, by ${nameList(names)}`);
    const emoji = document.createElement('span');
    emoji.className = 'reaction-emoji';
    emoji.textContent = reactions.emojiFor(name);
    const count = document.createElement('span');
    count.className = 'reaction-count';
    count.textContent = String(who.length);
    chip.append(emoji, count);
    box.append(chip);
  }
  const add = document.createElement('button');
  add.type = 'button';
  add.className = 'reaction reaction-add';
  add.dataset.action = 'react';
  add.dataset.focus = 'reaction-add';
  add.title = 'Add a reaction';
  add.setAttribute('aria-label', 'Add a reaction');
  add.textContent = '+';
  box.append(add);
  return box;
}

function actions(mine, pinned) {
  const bar = document.createElement('div');
  bar.className = 'message-actions';
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Message actions');
  const button = (action, symbol, label) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'action-button';
    b.dataset.action = action;
    b.dataset.focus = `action:${action}`;
    b.title = label;
    b.setAttribute('aria-label', label);
    b.append(icon(symbol));
    return b;
  };
  bar.append(button('react', 'smile', 'Add reaction'), button('reply', 'reply', 'Reply'));
  const pin = button('pin', 'pin', pinned ? 'Unpin' : 'Pin');
  pin.setAttribute('aria-pressed', String(pinned));
  bar.append(pin);
  if (mine) bar.append(button('edit', 'edit', 'Edit'), button('delete', 'trash', 'Delete'));
  return bar;
}
