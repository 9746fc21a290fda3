// Owns the sidebar's conversation lists (public channels, private channels, DMs with presence
// dots): a red badge counts the unread messages that mention me (every unread one in a DM),
// other unread messages make the name bold, and a muted conversation is dimmed with a quiet
// count. Also the unread count in the tab title (muted conversations left out), and the drawer
// the sidebar becomes on narrow screens. What the lists hold comes from state.js.

import * as state from './state.js';
import * as users from './users.js';
import { icon } from './icons.js';

const publicList = document.getElementById('public-channels');
const privateList = document.getElementById('private-channels');
const dmList = document.getElementById('dm-list');
const sidebar = document.getElementById('sidebar');
const menuToggle = document.getElementById('menu-toggle');
const scrim = document.getElementById('scrim');
const narrow = window.matchMedia('(max-width: 760px)');

function render() {
  // Rebuilding must not take the keyboard focus away from someone moving through the list.
  const focused = sidebar.contains(document.activeElement) ? document.activeElement : null;
  const focusKey = focused && (focused.dataset.channel ? `[data-channel="${CSS.escape(focused.dataset.channel)}"]`
    : focused.dataset.hide ? `[data-hide="${CSS.escape(focused.dataset.hide)}"]` : null);
  const lists = state.channelLists();
  const current = state.currentChannel();
  update(publicList, lists.public.map((c) => item(c.id, 'public', c, current)));
  update(privateList, lists.private.map((c) => item(c.id, 'private', c, current)));
  const dms = [...lists.dms];
  // An open DM that has no messages yet is listed too, so the user sees where they are.
  if (current && state.kindOf(current) === 'dm' && !dms.some((d) => d.id === current)) {
    dms.unshift({ id: current, users: state.dmUsers(current), unread: 0, draft: true });
  }
  update(dmList, dms.map((c) => item(c.id, 'dm', c, current)));
  if (focusKey && !focused.isConnected) sidebar.querySelector(focusKey)?.focus();
  renderTitle();
}

/**
 * Puts `items` in `list`, keeping each old item that looks exactly the same, so a count
 * changing in one conversation leaves the others (and a pointer or the focus on them) alone.
 */
function update(list, items) {
  const old = new Map([...list.children].map((li) => [li.outerHTML, li]));
  const wanted = items.map((li) => {
    const same = old.get(li.outerHTML);
    if (!same) return li;
    old.delete(li.outerHTML);
    return same;
  });
  for (const li of old.values()) li.remove();
  let cursor = list.firstElementChild;
  for (const li of wanted) {
    if (li === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(li, cursor);
  }
}

function item(id, kind, entry, current) {
  const li = document.createElement('li');
  li.className = 'channel-item';
  const link = document.createElement('a');
  link.className = 'channel-link';
  link.href = `#c/${encodeURIComponent(id)}`;
  link.dataset.channel = id;
  const unread = state.unreadOf(id);
  const mentions = state.mentionsOf(id);
  const muted = state.levelOf(id) === 'muted';
  if (muted) link.classList.add('muted-conversation');
  else if (unread) link.classList.add('unread');
  if (id === current) link.setAttribute('aria-current', 'page');

  const name = state.conversationName(id);
  if (kind === 'dm') {
    const others = state.dmUsers(id).filter((u) => u !== state.myName());
    if (others.length === 1) {
      link.append(users.avatar(others[0], { size: 'small', withPresence: true }));
    } else if (others.length === 0) {
      link.append(users.avatar(state.myName(), { size: 'small', withPresence: true }));
    } else {
      const group = document.createElement('span');
      group.className = 'avatar avatar-small avatar-group';
      group.setAttribute('aria-hidden', 'true');
      group.textContent = String(others.length);
      link.append(group);
    }
  } else {
    const sigil = document.createElement('span');
    sigil.className = 'channel-sigil';
    sigil.setAttribute('aria-hidden', 'true');
    if (kind === 'private') sigil.append(icon('lock'));
    else sigil.textContent = '#';
    link.append(sigil);
  }
  const label = document.createElement('span');
  label.className = 'channel-name';
  label.textContent = name;
  link.append(label);
  if (kind === 'dm') {
    const others = state.dmUsers(id).filter((u) => u !== state.myName());
    if (others.length === 1 && others[0] !== 'system') {
      const spoken = document.createElement('span');
      spoken.className = 'visually-hidden';
      spoken.textContent = `, ${users.PRESENCE_LABELS[users.presenceOf(others[0])]}`;
      link.append(spoken);
    }
  }
  if (muted) link.append(icon('bell-off'), hiddenText(', muted'));
  const shown = muted ? unread : mentions;
  if (shown) {
    const badge = document.createElement('span');
    badge.className = muted ? 'badge badge-quiet' : 'badge badge-mention';
    badge.textContent = shown > 99 ? '99+' : String(shown);
    badge.setAttribute('aria-hidden', 'true');
    link.append(badge);
  }
  if (unread) link.append(hiddenText(spokenCounts(kind, unread, muted ? 0 : mentions)));
  li.append(link);

  if (kind === 'dm' && !entry.draft) {
    const hide = document.createElement('button');
    hide.type = 'button';
    hide.className = 'icon-button hide-button';
    hide.dataset.hide = id;
    hide.textContent = '×';
    hide.title = 'Hide this conversation';
    hide.setAttribute('aria-label', `Hide the conversation with ${name}`);
    li.append(hide);
  }
  return li;
}

function hiddenText(text) {
  const span = document.createElement('span');
  span.className = 'visually-hidden';
  span.textContent = text;
  return span;
}

/** What a screen reader hears after the name: ", 2 mentions, 5 unread messages". */
function spokenCounts(kind, unread, mentions) {
  const messages = unread === 1 ? '1 unread message' : `${unread} unread messages`;
  if (!mentions || kind === 'dm') return `, ${messages}`;
  return `, ${mentions === 1 ? '1 mention' : `${mentions} mentions`}, ${messages}`;
}

function renderTitle() {
  const total = state.totalUnread();
  const current = state.currentChannel();
  const name = current ? state.conversationName(current) : '';
  const place = name ? `${state.kindOf(current) === 'public' ? '#' : ''}${name} · MiniMost` : 'MiniMost';
  document.title = total ? `(${total}) ${place}` : place;
}

// The drawer (narrow screens)

export function openDrawer() {
  document.body.classList.add('drawer-open');
  menuToggle.setAttribute('aria-expanded', 'true');
  menuToggle.setAttribute('aria-label', 'Hide conversations');
  scrim.hidden = false;
  (sidebar.querySelector('[aria-current="page"]') || sidebar.querySelector('a, button'))?.focus();
}

/** Closes the drawer; false when it was not open. */
export function closeDrawer({ restoreFocus = false } = {}) {
  if (!document.body.classList.contains('drawer-open')) return false;
  document.body.classList.remove('drawer-open');
  menuToggle.setAttribute('aria-expanded', 'false');
  menuToggle.setAttribute('aria-label', 'Show conversations');
  scrim.hidden = true;
  if (restoreFocus) menuToggle.focus();
  return true;
}

menuToggle.addEventListener('click', () => {
  if (document.body.classList.contains('drawer-open')) closeDrawer();
  else openDrawer();
});
scrim.addEventListener('click', () => closeDrawer());
narrow.addEventListener('change', () => closeDrawer());

sidebar.addEventListener('click', (event) => {
  const link = event.target.closest('.channel-link');
  if (link) {
    event.preventDefault();
    state.openConversation(link.dataset.channel);
    if (narrow.matches) closeDrawer();
    state.publish('focus-composer');
  }
});

state.subscribe('channels', render);
state.subscribe('choices', render);
state.subscribe('open', render);
state.subscribe('me', render);
users.onChange(render);
