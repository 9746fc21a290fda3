// Owns the reaction set the server serves (GET /api/reactions: name, emoji, label) and the one
// reaction picker of the page: a searchable grid placed next to whatever opened it. Sending a
// reaction is the caller's business; the picker only reports the chosen name.

import { request } from './api.js';

let reactions = []; // [{name, emoji, label}] in the server's order
let byName = new Map();
let loading = null;

const picker = document.getElementById('reaction-picker');
const search = document.getElementById('reaction-search');
const grid = document.getElementById('reaction-grid');
const emptyNote = document.getElementById('reaction-empty');
let onPick = null;
let returnFocus = null;

/** Loads the reaction set once; later calls share the same request. */
export function loadReactions() {
  if (!loading) {
    loading = (async () => {
      try {
        const result = await request('GET', '/api/reactions');
        if (result.ok && Array.isArray(result.data)) {
          reactions = result.data.filter((r) => r && typeof r.name === 'string' && typeof r.emoji === 'string');
          byName = new Map(reactions.map((r) => [r.name, r]));
          buildGrid();
          return;
        }
      } catch {
        // Fall through: try again next time someone asks.
      }
      loading = null;
    })();
  }
  return loading;
}

/** The reactions the server accepts, in its order (empty until loaded). */
export function reactionSet() {
  return reactions;
}

/** The emoji for a reaction name, or `:name:` when the name is not in the set. */
export function emojiFor(name) {
  return byName.get(name)?.emoji || `:${name}:`;
}

export function labelFor(name) {
  return byName.get(name)?.label || name;
}

export function pickerIsOpen() {
  return !picker.hidden;
}

/** Opens the picker next to `anchor`; `pick(name)` is called with the chosen reaction. */
export async function openPicker(anchor, pick) {
  await loadReactions();
  onPick = pick;
  returnFocus = anchor;
  search.value = '';
  filter();
  picker.hidden = false;
  place(anchor);
  search.focus();
}

/** Closes the picker, returning focus to what opened it unless told otherwise. */
export function closePicker({ restoreFocus = true } = {}) {
  if (picker.hidden) return;
  picker.hidden = true;
  onPick = null;
  if (restoreFocus && returnFocus && returnFocus.isConnected) returnFocus.focus();
  returnFocus = null;
}

function buildGrid() {
  grid.replaceChildren(...reactions.map((reaction) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'picker-item';
    button.dataset.emoji = reaction.name;
    button.textContent = reaction.emoji;
    button.title = `${reaction.label} (:${reaction.name}:)`;
    button.setAttribute('aria-label', reaction.label);
    return button;
  }));
}

function filter() {
  const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const button of grid.children) {
    const reaction = byName.get(button.dataset.emoji);
    const haystack = `${reaction.name} ${reaction.label}`.toLowerCase();
    const match = words.every((w) => haystack.includes(w));
    button.hidden = !match;
    if (match) shown += 1;
  }
  emptyNote.hidden = shown > 0;
}

function visibleItems() {
  return [...grid.children].filter((b) => !b.hidden);
}

function choose(name) {
  const pick = onPick;
  closePicker();
  if (pick) pick(name);
}

function place(anchor) {
  const margin = 8;
  const rect = anchor.getBoundingClientRect();
  const width = picker.offsetWidth;
  const height = picker.offsetHeight;
  let top = rect.top - height - margin;
  if (top < margin) top = Math.min(rect.bottom + margin, window.innerHeight - height - margin);
  let left = Math.min(rect.right - width, window.innerWidth - width - margin);
  left = Math.max(margin, left);
  picker.style.top = `${Math.max(margin, top)}px`;
  picker.style.left = `${left}px`;
}

search.addEventListener('input', filter);
search.addEventListener('keydown', (event) => {
  if (event.key === 'Enter') {
    event.preventDefault();
    const first = visibleItems()[0];
    if (first) choose(first.dataset.emoji);
  } else if (event.key === 'ArrowDown' || event.key === 'ArrowRight') {
    event.preventDefault();
    visibleItems()[0]?.focus();
  }
});
grid.addEventListener('click', (event) => {
  const button = event.target.closest('.picker-item');
  if (button) choose(button.dataset.emoji);
});
// Arrow keys move through the grid, row by row.
grid.addEventListener('keydown', (event) => {
  const items = visibleItems();
  const index = items.indexOf(document.activeElement);
  if (index < 0) return;
  const columns = Math.max(1, Math.round(grid.clientWidth / (items[0].offsetWidth || 1)));
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const next = index + moves[event.key];
  if (next < 0) search.focus();
  else items[Math.min(next, items.length - 1)].focus();
});
picker.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') {
    event.preventDefault();
    event.stopPropagation();
    closePicker();
  } else if (event.key === 'Tab') {
    // Keep focus inside while open: Tab past the last reaction wraps around to the search.
    const items = [search, ...visibleItems()];
    const last = items[items.length - 1];
    if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      search.focus();
    }
  }
});
document.addEventListener('pointerdown', (event) => {
  if (!picker.hidden && !picker.contains(event.target) && !returnFocus?.contains(event.target)) {
    closePicker({ restoreFocus: false });
  }
}, true);
window.addEventListener('resize', () => closePicker({ restoreFocus: false }));
