// Owns the signup page: the live username check, the password checklists (password-rules.js:
// every rule marked as the password is typed, without asking the server) and posting the new
// account to /api/signup, whose refusals are shown as the server words them.

import { wireAuthForm } from './auth-form.js';
import { showRules, watchPasswordRules } from './password-rules.js';

const USERNAME_RULES = {
  username: (name) => /^[A-Za-z0-9_-]{1,32}$/.test(name),
};

const form = document.getElementById('signup-form');
const username = document.getElementById('username');
const password = document.getElementById('password');
const confirmation = document.getElementById('confirm-password');

function checkUsername() {
  const name = username.value.trim();
  showRules(document.getElementById('username-rules'), USERNAME_RULES, [name], { judged: name !== '' });
  username.setAttribute('aria-invalid', String(name !== '' && !USERNAME_RULES.username(name)));
}

username.addEventListener('input', checkUsername);
// The browser may restore or autofill values before this module runs.
checkUsername();
watchPasswordRules(password, confirmation, document.getElementById('rules'), document.getElementById('match-rule'));

wireAuthForm(form, {
  url: '/api/signup',
  body: () => ({
    // Phone keyboards often append a space after a suggested word; names never contain one.
    username: username.value.trim(),
    password: password.value,
    confirm_password: confirmation.value,
  }),
});
