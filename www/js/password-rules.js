// Owns the password rules shown live on the signup and reset pages: the same rules, in the
// same order, that the server enforces.

const SPECIAL_CHARACTERS = "!@#$%^&*()_+-=[]{};':\"\\|,.<>/?`~";

export const PASSWORD_RULES = {
  // Counted in characters (code points), as a person would count them.
  length: (password) => [...password].length >= 8,
  digit: (password) => /[0-9]/.test(password),
  upper: (password) => /[A-Z]/.test(password),
  special: (password) => [...password].some((c) => SPECIAL_CHARACTERS.includes(c)),
  match: (password, confirmation) => confirmation.length > 0 && password === confirmation,
};

const LABELS = [
  ['length', 'At least 8 characters'],
  ['digit', 'At least one digit'],
  ['upper', 'At least one uppercase letter'],
  ['special', 'At least one special character: ', SPECIAL_CHARACTERS],
  ['match', 'Matches the confirmation'],
];

/** Fills an empty `<ul class="rules">` with one `<li data-rule>` per password rule. */
export function fillRuleList(list) {
  if (list.querySelector('li')) return;
  for (const [rule, label, code] of LABELS) {
    const item = document.createElement('li');
    item.dataset.rule = rule;
    item.setAttribute('aria-atomic', 'true');
    const text = document.createElement('span');
    text.textContent = label;
    if (code) {
      const chars = document.createElement('code');
      chars.textContent = code;
      text.append(chars);
    }
    const state = document.createElement('span');
    state.className = 'visually-hidden rule-state';
    state.textContent = 'not met';
    item.append(text, state);
    list.append(item);
  }
}

/** Marks each `<li data-rule>` in `list` met or unmet; only real changes touch the DOM. */
export function showRules(list, rules, ...values) {
  for (const item of list.querySelectorAll('li[data-rule]')) {
    const check = rules[item.dataset.rule];
    if (!check) continue;
    const met = check(...values);
    if (item.classList.contains('met') === met) continue;
    item.classList.toggle('met', met);
    item.querySelector('.rule-state').textContent = met ? 'met' : 'not met';
  }
}

/** Keeps `#rules` in step with the `password` and `confirmation` inputs. */
export function watchPasswordRules(password, confirmation) {
  const list = document.getElementById('rules');
  fillRuleList(list);
  const check = () => showRules(list, PASSWORD_RULES, password.value, confirmation.value);
  password.addEventListener('input', check);
  confirmation.addEventListener('input', check);
  // The browser may restore or autofill values before this module runs.
  check();
}
