// Owns the login page: posts the username and password to /api/login, and confirms a password
// reset when the reset page sent the user here (?reset=done).

import { wireAuthForm } from './auth-form.js';

const form = document.getElementById('login-form');
const username = document.getElementById('username');
const password = document.getElementById('password');

if (new URLSearchParams(location.search).get('reset') === 'done') {
  document.getElementById('notice').textContent = 'Your password was changed. Log in with the new one.';
}

wireAuthForm(form, {
  url: '/api/login',
  // Phone keyboards often append a space after a suggested word; names never contain one.
  body: () => ({ username: username.value.trim(), password: password.value }),
});
