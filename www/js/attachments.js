// Owns the files waiting to go out with the next message of each conversation: choosing them
// (the paperclip), pasting them into the message box or dropping them onto the conversation;
// the size limit, checked before anything is sent; uploading each one at once with its
// progress (POST /api/uploads); and the tray above the message box that shows them. The
// composer locks the finished uploads when it sends, and discards them once the message is in.

import { sendBytes, describeError } from './api.js';
import * as state from './state.js';
import { formatSize } from './message-item.js';
import { icon } from './icons.js';

export const MAX_FILES = 10; // per message, as the server allows

const tray = document.getElementById('attachments');
const fileInput = document.getElementById('file-input');
const attachButton = document.getElementById('attach');
const box = document.getElementById('composer');
const main = document.getElementById('main');
const dropHint = document.getElementById('drop-hint');
const notice = document.getElementById('attachments-notice');

const pending = new Map(); // channel id -> [item]
let nextKey = 1;

/*
 * An item: {key, file, status: 'uploading' | 'done' | 'failed', progress (0..1), name (the
 * stored upload name once done), error, retry (whether trying again may help), request (the
 * upload in flight), settled (a promise resolved when the upload ends), locked (being sent),
 * preview (an object URL for images), node}.
 */

function limitBytes() {
  const mb = Number(state.myProfile()?.max_upload_mb);
  return Number.isFinite(mb) && mb > 0 ? mb * 1024 * 1024 : Infinity;
}

function itemsOf(channel) {
  if (!pending.has(channel)) pending.set(channel, []);
  return pending.get(channel);
}

/** How many files wait in `channel` (failed ones included). */
export function count(channel) {
  return pending.get(channel)?.length || 0;
}

/** Adds files to the open conversation and starts uploading them. */
export function addFiles(fileList) {
  const channel = state.currentChannel();
  const files = [...fileList];
  if (!channel || !files.length || state.isReadOnly(channel)) return;
  const items = itemsOf(channel);
  const room = MAX_FILES - items.length;
  const notes = [];
  if (files.length > room) {
    const left = files.slice(Math.max(room, 0)).map((f) => f.name || 'file');
    notes.push(`A message can carry at most ${MAX_FILES} files; left out: ${left.join(', ')}.`);
    files.length = Math.max(room, 0);
  }
  for (const file of files) {
    const item = { key: nextKey, file, status: 'uploading', progress: 0, name: '', error: '', retry: false, locked: false };
    nextKey += 1;
    if (file.type.startsWith('image/')) item.preview = URL.createObjectURL(file);
    items.push(item);
    const limit = limitBytes();
    if (file.size > limit) {
      fail(item, `${formatSize(file.size)} is over the ${Math.round(limit / 1024 / 1024)} MB upload limit.`, false);
      item.settled = Promise.resolve();
    } else if (file.size === 0) {
      fail(item, 'The file is empty.', false);
      item.settled = Promise.resolve();
    } else {
      upload(item);
    }
  }
  notice.textContent = notes.join(' ');
  render();
}

function fail(item, error, retry) {
  item.status = 'failed';
  item.error = error;
  item.retry = retry;
}

function upload(item) {
  item.status = 'uploading';
  item.progress = 0;
  item.error = '';
  const request = sendBytes('POST', '/api/uploads', item.file, {
    headers: {
      'X-Filename': encodeURIComponent(item.file.name || 'file'),
      'Content-Type': item.file.type || 'application/octet-stream',
    },
    onProgress: (fraction) => {
      item.progress = fraction;
      update(item);
    },
  });
  item.request = request;
  item.settled = request.done.then((result) => {
    if (result.aborted) return;
    if (result.ok && result.data && typeof result.data.name === 'string') {
      item.status = 'done';
      item.name = result.data.name;
      item.progress = 1;
    } else {
      if (result.status === 401) location.replace('/login');
      fail(item, describeError(result), result.status !== 413 && result.status !== 400);
    }
  }, (err) => fail(item, err.message, true)).finally(() => {
    item.request = null;
    update(item);
  });
}

function remove(channel, item) {
  item.request?.abort();
  if (item.preview) URL.revokeObjectURL(item.preview);
  const items = pending.get(channel) || [];
  const index = items.indexOf(item);
  if (index >= 0) items.splice(index, 1);
  if (!items.length) pending.delete(channel);
  render();
}

/**
 * Marks every file of `channel` as being sent and waits for their uploads. Resolves to
 * `{batch, names}`, or `{batch, problem}` when a file could not be uploaded.
 */
export async function lock(channel) {
  const batch = [...(pending.get(channel) || [])];
  for (const item of batch) item.locked = true;
  render();
  await Promise.all(batch.map((item) => item.settled));
  const failed = batch.filter((item) => item.status !== 'done');
  if (failed.length) {
    const names = failed.map((item) => item.file.name || 'file').join(', ');
    return { batch, problem: `${names} could not be uploaded. Remove ${failed.length === 1 ? 'it' : 'them'} or try again.` };
  }
  return { batch, names: batch.map((item) => item.name) };
}

/** Gives a locked batch back to the user (the message was not sent). */
export function unlock(batch) {
  for (const item of batch) item.locked = false;
  render();
}

/** Forgets a batch that went out with a message. */
export function discard(channel, batch) {
  if (channel === state.currentChannel()) notice.textContent = '';
  for (const item of batch) {
    if (item.preview) URL.revokeObjectURL(item.preview);
  }
  const items = (pending.get(channel) || []).filter((item) => !batch.includes(item));
  if (items.length) pending.set(channel, items);
  else pending.delete(channel);
  render();
}

// The tray

function render() {
  const channel = state.currentChannel();
  const items = pending.get(channel) || [];
  tray.replaceChildren(...items.map((item) => {
    if (!item.node) item.node = itemNode(channel, item);
    update(item);
    return item.node;
  }));
  tray.hidden = items.length === 0;
}

function itemNode(channel, item) {
  const li = document.createElement('li');
  li.className = 'attachment';
  li.dataset.key = String(item.key);
  const thumb = document.createElement('span');
  thumb.className = 'attachment-thumb';
  thumb.setAttribute('aria-hidden', 'true');
  if (item.preview) {
    const img = document.createElement('img');
    img.src = item.preview;
    img.alt = '';
    thumb.append(img);
  } else {
    thumb.append(icon('file'));
  }
  const info = document.createElement('span');
  info.className = 'attachment-info';
  const name = document.createElement('span');
  name.className = 'attachment-name';
  name.textContent = item.file.name || 'file';
  name.title = item.file.name || 'file';
  const detail = document.createElement('span');
  detail.className = 'attachment-detail';
  const progress = document.createElement('progress');
  progress.className = 'attachment-progress';
  progress.max = 1;
  progress.setAttribute('aria-label', `Uploading ${item.file.name || 'file'}`);
  info.append(name, detail, progress);
  const retry = document.createElement('button');
  retry.type = 'button';
  retry.className = 'icon-button attachment-retry';
  retry.textContent = '↻';
  retry.title = 'Try again';
  retry.setAttribute('aria-label', `Upload ${item.file.name || 'file'} again`);
  retry.addEventListener('click', () => upload(item));
  const removeButton = document.createElement('button');
  removeButton.type = 'button';
  removeButton.className = 'icon-button attachment-remove';
  removeButton.textContent = '×';
  removeButton.title = 'Remove';
  removeButton.setAttribute('aria-label', `Remove ${item.file.name || 'file'}`);
  removeButton.addEventListener('click', () => {
    remove(channel, item);
    box.focus();
  });
  li.append(thumb, info, retry, removeButton);
  return li;
}

function update(item) {
  const li = item.node;
  if (!li) return;
  li.dataset.status = item.status;
  const detail = li.querySelector('.attachment-detail');
  const progress = li.querySelector('.attachment-progress');
  const size = formatSize(item.file.size);
  if (item.status === 'uploading') {
    detail.textContent = `${size} · ${Math.floor(item.progress * 100)}%`;
  } else if (item.status === 'done') {
    detail.textContent = `${size} · ready`;
  } else {
    detail.textContent = item.error;
  }
  detail.classList.toggle('error', item.status === 'failed');
  progress.hidden = item.status !== 'uploading';
  progress.value = item.progress;
  li.querySelector('.attachment-retry').hidden = !(item.status === 'failed' && item.retry && !item.locked);
  li.querySelector('.attachment-remove').disabled = item.locked;
}

// Ways in: the paperclip, pasting, dropping

attachButton.addEventListener('click', () => fileInput.click());
fileInput.addEventListener('change', () => {
  addFiles(fileInput.files);
  fileInput.value = '';
  box.focus();
});

box.addEventListener('paste', (event) => {
  const files = [...(event.clipboardData?.files || [])];
  if (!files.length) return;
  // A copied picture often comes with its text or HTML too; only plain text is worth pasting.
  if (!event.clipboardData.types.includes('text/plain')) event.preventDefault();
  addFiles(files);
});

function carriesFiles(event) {
  return [...(event.dataTransfer?.types || [])].includes('Files');
}

let dragDepth = 0;
main.addEventListener('dragenter', (event) => {
  if (!carriesFiles(event) || box.disabled) return;
  event.preventDefault();
  dragDepth += 1;
  dropHint.hidden = false;
});
main.addEventListener('dragover', (event) => {
  if (!carriesFiles(event) || box.disabled) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = 'copy';
});
main.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) dropHint.hidden = true;
});
main.addEventListener('drop', (event) => {
  dragDepth = 0;
  dropHint.hidden = true;
  if (!carriesFiles(event) || box.disabled) return;
  event.preventDefault();
  addFiles(event.dataTransfer.files);
  box.focus();
});
// A file dropped anywhere else must not make the browser leave the app to show it.
for (const type of ['dragover', 'drop']) {
  window.addEventListener(type, (event) => {
    if (carriesFiles(event)) event.preventDefault();
  });
}

state.subscribe('open', () => {
  notice.textContent = '';
  render();
});
