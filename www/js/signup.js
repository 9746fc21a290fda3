// Owns the signup page: the live rule checklists (the same rules, in the same order, that the
// server enforces) and posting the new account to /api/signup.

import { wireAuthForm } from './auth-form.js';

const SPECIAL_CHARACTERS = "!@#$%^&*()_+-=[]{};':\"\\|,.<>/?`~";

const USERNAME_RULES = {
  username: (name) => /^[A-Za-z0-9_-]{1,32}$/.test(name),
};

const PASSWORD_RULES = {
  // Counted in characters (code points), as a person would count them.
  length: (password) => [...password].length >= 8,
  digit: (password) => /[0-9]/.test(password),
  upper: (password) => /[A-Z]/.test(password),
  special: (password) => [...password].some((c) => SPECIAL_CHARACTERS.includes(c)),
  match: (password, confirmation) => confirmation.length > 0 && password === confirmation,
};

const form = document.getElementById('signup-form');
const username = document.getElementById('username');
const password = document.getElementById('password');
const confirmation = document.getElementById('confirm-password');

/** Marks each `<li data-rule>` in `list` met or unmet; only real changes touch the DOM. */
function showRules(list, rules, ...values) {
  for (const item of list.querySelectorAll('li[data-rule]')) {
    const check = rules[item.dataset.rule];
    if (!check) continue;
    const met = check(...values);
    if (item.classList.contains('met') === met) continue;
    item.classList.toggle('met', met);
    item.querySelector('.rule-state').textContent = met ? 'met' : 'not met';
  }
}

function checkUsername() {
  const name = username.value.trim();
  showRules(document.getElementById('username-rules'), USERNAME_RULES, name);
  username.setAttribute('aria-invalid', String(name !== '' && !USERNAME_RULES.username(name)));
}

function checkPassword() {
  showRules(document.getElementById('rules'), PASSWORD_RULES, password.value, confirmation.value);
}

username.addEventListener('input', checkUsername);
password.addEventListener('input', checkPassword);
confirmation.addEventListener('input', checkPassword);
// The browser may restore or autofill values before this module runs.
checkUsername();
checkPassword();

wireAuthForm(form, {
  url: '/api/signup',
  body: () => ({
    // Phone keyboards often append a space after a suggested word; names never contain one.
    username: username.value.trim(),
    password: password.value,
    confirm_password: confirmation.value,
  }),
});
