// Owns reading the open conversation: which of its messages have been on screen while the tab
// was visible (the newest one with a line of it showing, once the list has held still for a
// moment), marking the conversation read on the server up to that one (POST
// /api/channels/{ch}/read?up_to=<id>) — never what waits below the fold —, the open
// conversation's unread and mention counts (what has not been on screen yet), and the
// "N new messages ↓" pill shown while such messages wait below. It builds on the list of
// messages.js and never draws a message.

import { request, channelUrl } from './api.js';
import * as state from './state.js';
import { view, onRender, isNearBottom, scrollMessages } from './messages.js';
import { unseenCounts } from './message-model.js';

// The list must hold still this long for what it shows to count as seen (and one request
// then marks all of it).
const SETTLE_MS = 150;
// This much of a message (all of a shorter one) on screen, and it has been seen.
const SEEN_PX = 24;

const scroller = document.getElementById('messages');
const list = document.getElementById('message-list');
const pill = document.getElementById('new-messages');
const pillText = document.getElementById('new-messages-text');

let seenTimer = 0;
let countPending = false;

function pageVisible() {
  return document.visibilityState === 'visible';
}

/** The newest message with a line of it on screen, or null. */
function newestOnScreen() {
  const box = scroller.getBoundingClientRect();
  for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
    if (!node.classList.contains('message')) continue;
    const rect = node.getBoundingClientRect();
    if (rect.bottom <= box.top) return null; // above the screen, and so is all before it
    if (rect.top + Math.min(rect.height, SEEN_PX) <= box.bottom) return view.byId.get(node.dataset.id) || null;
  }
  return null;
}

/**
 * Notes what is on screen now, and marks read up to the newest message seen when others'
 * messages wait unread before it (again after a failure).
 */
function checkSeen() {
  const v = view;
  if (!v.placed || !pageVisible()) return;
  const newest = newestOnScreen();
  if (newest && newest.ts > v.seenTs) {
    v.seenTs = newest.ts;
    v.seenId = newest.id;
    countNow();
  }
  if (!v.seenId || v.seenTs <= v.readTs) return;
  const me = state.myName();
  const unread = !v.countsExact || v.messages.some((m) => m.ts > v.readTs && m.ts <= v.seenTs && m.sender !== me);
  if (unread) markRead(v, { id: v.seenId, ts: v.seenTs });
  else v.readTs = v.seenTs; // only my own messages: nothing to tell the server
}

async function markRead(v, upTo) {
  const previous = v.readTs;
  v.readTs = upTo.ts;
  try {
    const result = await request('POST', `${channelUrl(v.channel, '/read')}?up_to=${encodeURIComponent(upTo.id)}`);
    if (!result.ok) throw new Error(`HTTP ${result.status}`);
    // Everything up to it is read now, and everything after it is loaded: counted here.
    v.countsExact = true;
    if (view === v) countNow();
  } catch {
    // The next look at the list tries again.
    if (v.readTs === upTo.ts) v.readTs = previous;
  }
}

function scheduleSeen() {
  clearTimeout(seenTimer);
  seenTimer = setTimeout(checkSeen, SETTLE_MS);
}

/** The open conversation's counts in the sidebar, and the pill, from what has been seen. */
function countNow() {
  const v = view;
  if (!v.loaded) {
    pill.hidden = true;
    return;
  }
  const [unread, mentions] = unseenCounts(v, state.myName());
  if (v.countsExact) state.setUnread(v.channel, unread, mentions);
  const show = unread > 0 && !isNearBottom();
  pill.hidden = !show;
  if (show) pillText.textContent = unread === 1 ? '1 new message' : `${unread} new messages`;
}

/** Counts once the current script is done (a render is followed by its scrolling). */
function countSoon() {
  if (countPending) return;
  countPending = true;
  queueMicrotask(() => {
    countPending = false;
    countNow();
  });
}

onRender(() => {
  countSoon();
  scheduleSeen();
});
scroller.addEventListener('scroll', () => {
  countSoon();
  scheduleSeen();
}, { passive: true });
document.addEventListener('visibilitychange', scheduleSeen);
window.addEventListener('focus', scheduleSeen);
// A fresh list from the server may count, for the open conversation, messages already seen
// here (or arrived after it was read): what has been on screen here is the truth.
state.subscribe('channels', countSoon);
state.subscribe('open', () => {
  pill.hidden = true;
});

pill.addEventListener('click', () => {
  scrollMessages('bottom');
  scroller.focus({ preventScroll: true });
});
