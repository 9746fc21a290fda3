// Owns the login page: posts the username and password to /api/login (an empty field is
// pointed out without asking the server), and confirms a password reset when the reset page
// sent the user here (?reset=done).

import { wireAuthForm } from './auth-form.js';

const form = document.getElementById('login-form');
const username = document.getElementById('username');
const password = document.getElementById('password');

if (new URLSearchParams(location.search).get('reset') === 'done') {
  document.getElementById('notice').textContent = 'Your password was changed. Log in with the new one.';
}

/** What stops the form from being sent: an empty field, which also gets the focus. */
function problem() {
  const fields = [[username, username.value.trim()], [password, password.value]];
  for (const [field, value] of fields) field.setAttribute('aria-invalid', String(!value));
  const empty = fields.filter(([, value]) => !value).map(([field]) => field);
  if (!empty.length) return '';
  empty[0].focus();
  if (empty.length === 2) return 'Enter your username and password';
  return empty[0] === username ? 'Enter your username' : 'Enter your password';
}

for (const field of [username, password]) {
  field.addEventListener('input', () => field.removeAttribute('aria-invalid'));
}

wireAuthForm(form, {
  url: '/api/login',
  problem,
  // Phone keyboards often append a space after a suggested word; names never contain one.
  body: () => ({ username: username.value.trim(), password: password.value }),
});
