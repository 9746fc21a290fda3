// Owns what every dialog of the app shares: opening and closing the native <dialog> elements
// (Esc, the backdrop and [data-close] buttons close them), a confirmation dialog that resolves
// to true or false, the username picker with autocomplete used by the conversation dialogs,
// and the app-level error line (#app-error) for actions that fail outside any dialog.

import * as users from './users.js';
import * as state from './state.js';

/** Opens `dialog` as a modal, focusing `focus` (or the dialog's first field). */
export function openDialog(dialog, focus) {
  if (!dialog.open) dialog.showModal();
  const target = focus || dialog.querySelector('input, textarea, select, button:not([data-close])');
  if (target) target.focus();
}

export function anyDialogOpen() {
  return document.querySelector('dialog[open]') !== null;
}

/** Asks a yes/no question; resolves to true only if the user confirms. */
export function confirmAction({ title, text, confirmLabel = 'OK' }) {
  const dialog = document.getElementById('confirm-dialog');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  ok.textContent = confirmLabel;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    openDialog(dialog, ok);
  });
}

for (const dialog of document.querySelectorAll('dialog')) {
  dialog.addEventListener('click', (event) => {
    if (event.target.closest('[data-close]')) dialog.close();
    // A click on the backdrop lands on the dialog element itself, outside its box.
    else if (event.target === dialog) {
      const rect = dialog.getBoundingClientRect();
      const inside = event.clientX >= rect.left && event.clientX <= rect.right
        && event.clientY >= rect.top && event.clientY <= rect.bottom;
      if (!inside) dialog.close();
    }
  });
}

const appError = document.getElementById('app-error');
let errorTimer = 0;

/** Shows `text` in the app's alert line for a while (screen readers announce it). */
export function showError(text) {
  appError.textContent = text;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => {
    appError.textContent = '';
  }, 8000);
}

let pickerCount = 0;

/**
 * Builds a username picker in `container`: typed names autocomplete from the directory and
 * become removable chips. `inputId` names the text field (for its <label>); `excluded()` lists
 * usernames not to offer (besides the signed-in user, who is never offered).
 */
export function userPicker(container, { inputId, excluded = () => [] }) {
  pickerCount += 1;
  const listId = `user-suggestions-${pickerCount}`;
  let chosen = [];
  let suggestions = [];
  let active = -1;

  const chips = document.createElement('ul');
  chips.className = 'chips';
  chips.setAttribute('aria-label', 'Chosen people');

  const input = document.createElement('input');
  input.id = inputId;
  input.type = 'text';
  input.className = 'user-picker-input';
  input.autocomplete = 'off';
  input.spellcheck = false;
  input.setAttribute('autocapitalize', 'none');
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', listId);
  input.placeholder = 'Type a username';

  const list = document.createElement('ul');
  list.id = listId;
  list.className = 'suggestions';
  list.setAttribute('role', 'listbox');
  list.setAttribute('aria-label', 'Matching people');
  list.hidden = true;

  container.replaceChildren(chips, input, list);

  function offered() {
    const skip = new Set([state.myName(), 'system', ...chosen, ...excluded()]);
    return users.allUsers().map((u) => u.username).filter((name) => !skip.has(name));
  }

  function renderChips() {
    chips.replaceChildren(...chosen.map((name) => {
      const chip = document.createElement('li');
      chip.className = 'chip';
      chip.dataset.user = name;
      const label = document.createElement('span');
      label.textContent = name;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'chip-remove';
      remove.textContent = '×';
      remove.setAttribute('aria-label', `Remove ${name}`);
      remove.addEventListener('click', () => {
        chosen = chosen.filter((n) => n !== name);
        renderChips();
        input.focus();
      });
      chip.append(users.avatar(name, { size: 'tiny' }), label, remove);
      return chip;
    }));
  }

  function showSuggestions(all = false) {
    const query = input.value.trim().toLowerCase();
    if (!query && !all) {
      hideSuggestions();
      return;
    }
    const names = offered();
    const starts = names.filter((n) => n.toLowerCase().startsWith(query));
    const contains = names.filter((n) => !n.toLowerCase().startsWith(query) && n.toLowerCase().includes(query));
    suggestions = [...starts, ...contains].slice(0, 8);
    active = suggestions.length ? 0 : -1;
    list.replaceChildren(...suggestions.map((name, index) => {
      const option = document.createElement('li');
      option.id = `${listId}-${index}`;
      option.className = 'suggestion';
      option.dataset.user = name;
      option.setAttribute('role', 'option');
      const label = document.createElement('span');
      label.textContent = name;
      option.append(users.avatar(name, { size: 'tiny', withPresence: true }), label);
      return option;
    }));
    list.hidden = suggestions.length === 0;
    input.setAttribute('aria-expanded', String(!list.hidden));
    markActive();
  }

  function hideSuggestions() {
    suggestions = [];
    active = -1;
    list.hidden = true;
    list.replaceChildren();
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function markActive() {
    [...list.children].forEach((option, index) => option.setAttribute('aria-selected', String(index === active)));
    if (active >= 0) input.setAttribute('aria-activedescendant', `${listId}-${active}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function add(name) {
    if (!chosen.includes(name)) chosen.push(name);
    input.value = '';
    renderChips();
    hideSuggestions();
  }

  /** Turns typed text into chips; returns the typed names that are nobody's. */
  function commitTyped() {
    const unknown = [];
    for (const word of input.value.split(/[\s,;]+/).filter(Boolean)) {
      const name = users.canonicalName(word.replace(/^@/, ''));
      if (name && name !== state.myName()) add(name);
      else if (!name) unknown.push(word);
    }
    input.value = unknown.join(' ');
    return unknown;
  }

  input.addEventListener('input', () => {
    if (/[\s,;]$/.test(input.value)) commitTyped();
    showSuggestions();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      if (list.hidden) {
        showSuggestions(true);
        return;
      }
      const step = event.key === 'ArrowDown' ? 1 : -1;
      active = (active + step + suggestions.length) % suggestions.length;
      markActive();
    } else if (event.key === 'Enter') {
      if (active >= 0 && !list.hidden) {
        event.preventDefault();
        add(suggestions[active]);
      } else if (input.value.trim()) {
        event.preventDefault();
        commitTyped();
      }
      // An empty field lets Enter submit the form.
    } else if (event.key === 'Escape' && !list.hidden) {
      event.preventDefault();
      event.stopPropagation();
      hideSuggestions();
    } else if (event.key === 'Backspace' && !input.value && chosen.length) {
      chosen.pop();
      renderChips();
    }
  });
  input.addEventListener('blur', hideSuggestions);
  // Picking with the mouse must not blur the field (which would close the list first).
  list.addEventListener('mousedown', (event) => event.preventDefault());
  list.addEventListener('click', (event) => {
    const option = event.target.closest('.suggestion');
    if (option) {
      add(option.dataset.user);
      input.focus();
    }
  });

  return {
    input,
    /** The chosen usernames after committing what is typed; `unknown` lists typed non-users. */
    take() {
      const unknown = commitTyped();
      return { names: [...chosen], unknown };
    },
    reset() {
      chosen = [];
      input.value = '';
      renderChips();
      hideSuggestions();
    },
  };
}
