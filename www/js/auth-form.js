// Owns what the login and signup forms share: submit the fields as JSON, disable the button
// while waiting, show the server's error in #error (keeping what was typed), and open the app
// on success. Page modules say where to post and what to send, and may name a problem to
// show without asking the server at all (an empty form).

import { request, describeError, NetworkError } from './api.js';

/**
 * Wires `form` so that submitting it POSTs `body()` to `url`, then opens `next` (the app).
 * `problem()`, if given, runs first: a message it returns is shown instead of sending.
 * The form must contain `#submit`; the page must contain the alert area `#error`.
 */
export function wireAuthForm(form, { url, body, problem = () => '', next = '/' }) {
  const button = form.querySelector('#submit');
  const error = document.getElementById('error');
  const idleLabel = button.textContent;
  const busyLabel = button.dataset.busyLabel || idleLabel;
  let busy = false;

  function setBusy(on) {
    busy = on;
    button.disabled = on;
    button.textContent = on ? busyLabel : idleLabel;
    form.setAttribute('aria-busy', String(on));
    // A disabled button drops focus; give it back so keyboard users stay in place.
    if (!on && document.activeElement === document.body) button.focus();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (busy) return;
    // Clearing first makes a repeated identical message count as new text for screen readers.
    error.textContent = '';
    const local = problem();
    if (local) {
      error.textContent = local;
      return;
    }
    setBusy(true);
    try {
      const result = await request('POST', url, body());
      if (result.ok) {
        // Stay busy: the page is about to be replaced.
        location.assign(next);
        return;
      }
      error.textContent = describeError(result);
    } catch (err) {
      error.textContent = err instanceof NetworkError ? err.message : 'Something went wrong. Please try again.';
      if (!(err instanceof NetworkError)) console.error(err);
    }
    setBusy(false);
  });
}
