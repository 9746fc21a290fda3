// Owns the reset-password page: checks the link's token (GET /api/reset-password/<token>),
// shows whose password is being reset, and sets the new one. Afterwards every session of the
// account has ended, so the user goes to the login page, which says the password was changed.

import { request } from './api.js';
import { wireAuthForm } from './auth-form.js';
import { watchPasswordRules } from './password-rules.js';

const token = decodeURIComponent(location.pathname.split('/').pop() || '');
const url = `/api/reset-password/${encodeURIComponent(token)}`;
const form = document.getElementById('reset-form');
const intro = document.getElementById('reset-intro');
const password = document.getElementById('password');
const confirmation = document.getElementById('confirm-password');

async function start() {
  let result;
  try {
    result = await request('GET', url);
  } catch {
    intro.textContent = 'Cannot reach the server. Check your connection and reload.';
    return;
  }
  if (!result.ok) {
    intro.textContent = 'This reset link cannot be used.';
    document.getElementById('reset-invalid').hidden = false;
    return;
  }
  intro.textContent = `Choose a new password for ${result.data.username}.`;
  form.hidden = false;
  password.focus();
}

watchPasswordRules(password, confirmation, document.getElementById('rules'), document.getElementById('match-rule'));
wireAuthForm(form, {
  url,
  body: () => ({ password: password.value, confirm_password: confirmation.value }),
  // A reset logs the account out everywhere: the login page says the new password is set.
  next: '/login?reset=done',
});
start();
