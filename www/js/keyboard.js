// Owns the page-wide keyboard shortcuts and the help dialog that lists them (`?`). Keys typed
// into a field belong to that field: single-letter shortcuts only act outside text fields.
// Esc, Enter and the Up arrow inside the composer and the edit box are handled there. In
// visual mode (`v`) the letters act on the selected message (visual-mode.js).

import * as state from './state.js';
import * as messages from './messages.js';
import { cancelEdit } from './message-actions.js';
import * as visual from './visual-mode.js';
import * as composer from './composer.js';
import { closeDrawer } from './sidebar.js';
import { openDialog, anyDialogOpen } from './dialogs.js';
import { pickerIsOpen } from './reactions.js';
import { openSearch } from './search.js';

const helpDialog = document.getElementById('help-dialog');

export function showHelp() {
  openDialog(helpDialog, helpDialog.querySelector('[data-close]'));
}

function isTextField(element) {
  if (!element) return false;
  if (element.isContentEditable) return true;
  if (element.tagName === 'TEXTAREA' || element.tagName === 'SELECT') return true;
  if (element.tagName !== 'INPUT') return false;
  return !['button', 'checkbox', 'radio', 'submit', 'reset', 'range', 'color', 'file'].includes(element.type);
}

document.addEventListener('keydown', (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  const inDialog = anyDialogOpen();

  // Next / previous conversation work even from the message box.
  const ctrlOnly = event.ctrlKey && !event.altKey && !event.metaKey && !event.shiftKey;
  const altOnly = event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  if (!inDialog && ((ctrlOnly && (key === 'j' || key === 'k')) || (altOnly && (key === 'ArrowDown' || key === 'ArrowUp')))) {
    event.preventDefault();
    state.openNeighbour(key === 'j' || key === 'ArrowDown' ? 1 : -1);
    return;
  }

  if (event.key === 'Escape') {
    if (inDialog || pickerIsOpen()) return; // they close themselves
    if (visual.endVisual()) {
      event.preventDefault();
      return;
    }
    if (closeDrawer({ restoreFocus: true })) {
      event.preventDefault();
      return;
    }
    if (cancelEdit() || composer.cancelReply()) {
      event.preventDefault();
      return;
    }
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    return;
  }

  if (inDialog || pickerIsOpen() || isTextField(event.target)) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;

  if (visual.visualActive() && visualKey(event)) {
    event.preventDefault();
    return;
  }

  switch (event.key) {
    case 'v':
      if (visual.startVisual()) event.preventDefault();
      break;
    case '/':
    case 'f':
      event.preventDefault();
      openSearch();
      break;
    case '?':
      event.preventDefault();
      showHelp();
      break;
    case 'i':
      event.preventDefault();
      composer.focus();
      break;
    case 'j':
      event.preventDefault();
      messages.scrollMessages('down');
      break;
    case 'k':
      event.preventDefault();
      messages.scrollMessages('up');
      break;
    case 'g':
      event.preventDefault();
      messages.scrollMessages('top');
      break;
    case 'G':
      event.preventDefault();
      messages.scrollMessages('bottom');
      break;
    default:
  }
});

/** Handles a key of visual mode; false for keys that keep their usual meaning (`?`, `/`). */
function visualKey(event) {
  switch (event.key) {
    case 'j':
    case 'ArrowDown':
      visual.moveVisual(1);
      return true;
    case 'k':
    case 'ArrowUp':
      visual.moveVisual(-1);
      return true;
    case 'g':
      visual.moveVisual('first');
      return true;
    case 'G':
      visual.moveVisual('last');
      return true;
    case 'v':
      visual.endVisual();
      return true;
    case 'o':
    case 'p':
    case 'c':
    case 'd':
    case 'e':
    case 'y':
      visual.visualAction(event.key);
      return true;
    case 'i':
      visual.endVisual({ refocus: false });
      return false; // and focus the composer as usual
    default:
      return false;
  }
}

document.getElementById('help-button').addEventListener('click', showHelp);
