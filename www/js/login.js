// Owns the login page: posts the username and password to /api/login.

import { wireAuthForm } from './auth-form.js';

const form = document.getElementById('login-form');
const username = document.getElementById('username');
const password = document.getElementById('password');

wireAuthForm(form, {
  url: '/api/login',
  // Phone keyboards often append a space after a suggested word; names never contain one.
  body: () => ({ username: username.value.trim(), password: password.value }),
});
