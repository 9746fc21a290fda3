// Owns the profile menu behind the account button in the top bar (my picture and name): Profile
// and settings, Do not disturb (notification-levels.js switches it), Keyboard shortcuts (not on
// touch screens) and Log out (app.js does the logging out). It opens below the button; choosing an item, Esc, Tab away or a click elsewhere closes
// it. The arrow keys move between its items.

import { openSettings } from './settings.js';
import { showHelp } from './keyboard.js';
import { toggleDoNotDisturb } from './notification-levels.js';

const button = document.getElementById('account-button');
const menu = document.getElementById('profile-menu');

function items() {
  return [...menu.querySelectorAll('.menu-item')].filter((item) => item.offsetParent !== null);
}

export function openMenu({ focusFirst = false } = {}) {
  menu.hidden = false;
  button.setAttribute('aria-expanded', 'true');
  if (focusFirst) items()[0]?.focus();
}

/** Closes the menu; false when it was not open. */
export function closeMenu({ restoreFocus = false } = {}) {
  if (menu.hidden) return false;
  menu.hidden = true;
  button.setAttribute('aria-expanded', 'false');
  if (restoreFocus) button.focus();
  return true;
}

button.addEventListener('click', () => {
  if (menu.hidden) openMenu();
  else closeMenu();
});
button.addEventListener('keydown', (event) => {
  if (event.key === 'ArrowDown' && menu.hidden) {
    event.preventDefault();
    openMenu({ focusFirst: true });
  } else if (event.key === 'Escape' && closeMenu()) {
    event.preventDefault();
    event.stopPropagation();
  }
});

menu.addEventListener('click', (event) => {
  const item = event.target.closest('.menu-item');
  if (!item) return;
  closeMenu();
  if (item.id === 'open-settings') openSettings();
  else if (item.id === 'toggle-dnd') toggleDoNotDisturb();
  else if (item.id === 'open-help') showHelp();
  // #logout is app.js's: it hears the same click.
});

menu.addEventListener('keydown', (event) => {
  const all = items();
  const index = all.indexOf(document.activeElement);
  const moves = { ArrowDown: 1, ArrowUp: -1 };
  if (event.key === 'Escape') {
    event.preventDefault();
    event.stopPropagation();
    closeMenu({ restoreFocus: true });
  } else if (event.key in moves && all.length) {
    event.preventDefault();
    all[(index + moves[event.key] + all.length) % all.length].focus();
  } else if (event.key === 'Home' || event.key === 'End') {
    event.preventDefault();
    all[event.key === 'Home' ? 0 : all.length - 1]?.focus();
  }
});

// Focus or a click landing anywhere else closes it.
menu.addEventListener('focusout', (event) => {
  if (event.relatedTarget && !menu.contains(event.relatedTarget) && event.relatedTarget !== button) closeMenu();
});
document.addEventListener('pointerdown', (event) => {
  if (!menu.hidden && !menu.contains(event.target) && !button.contains(event.target)) closeMenu();
}, true);
