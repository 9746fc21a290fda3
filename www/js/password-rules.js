// Owns the password rules shown live on the signup and reset pages and in Settings: the same
// rules, in the same order, that the server enforces (it still checks them all, and names the
// first one a password breaks). The rules about the password itself are listed under the
// password field, and "matches" under the confirmation; as soon as a field has text, each rule
// reads met (✓) or unmet (✗), to the eye and to screen readers.

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
/** The rules about the password itself, listed under the password field. */
export const OWN_RULES = ['length', 'digit', 'upper', 'special'];

/** Fills an empty `<ul class="rules">` with one `<li data-rule>` per rule named in `names`. */
export function fillRuleList(list, names = LABELS.map(([rule]) => rule)) {
  if (list.querySelector('li')) return;
  for (const [rule, label, code] of LABELS.filter(([name]) => names.includes(name))) {
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

/**
 * Marks each `<li data-rule>` in `list` met or not; with `judged` (something was typed), the
 * rules not met are also marked unmet. Only real changes touch the DOM. Returns whether every
 * rule in the list is met.
 */
export function showRules(list, rules, values, { judged = true } = {}) {
  let all = true;
  for (const item of list.querySelectorAll('li[data-rule]')) {
    const check = rules[item.dataset.rule];
    if (!check) continue;
    const met = check(...values);
    all &&= met;
    const unmet = judged && !met;
    if (item.classList.contains('met') === met && item.classList.contains('unmet') === unmet) continue;
    item.classList.toggle('met', met);
    item.classList.toggle('unmet', unmet);
    item.querySelector('.rule-state').textContent = met ? 'met' : 'not met';
  }
  return all;
}

/**
 * Keeps the rule lists in step with a `password` and `confirmation` input pair: `ownList`
 * (under the password) gets the password's own rules, `matchList` (under the confirmation)
 * the match rule. A field is marked invalid while it has text that breaks a rule.
 */
export function watchPasswordRules(password, confirmation, ownList, matchList) {
  fillRuleList(ownList, OWN_RULES);
  fillRuleList(matchList, ['match']);
  const check = () => {
    const values = [password.value, confirmation.value];
    const ownMet = showRules(ownList, PASSWORD_RULES, values, { judged: password.value !== '' });
    const matchMet = showRules(matchList, PASSWORD_RULES, values, { judged: confirmation.value !== '' });
    password.setAttribute('aria-invalid', String(password.value !== '' && !ownMet));
    confirmation.setAttribute('aria-invalid', String(confirmation.value !== '' && !matchMet));
  };
  password.addEventListener('input', check);
  confirmation.addEventListener('input', check);
  // The browser may restore or autofill values before this module runs.
  check();
  return check;
}
