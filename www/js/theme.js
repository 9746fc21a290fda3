// Owns the theme choice of this browser: 'system' (the default: follow the system's light or
// dark preference), 'light' or 'dark', kept in localStorage. Applying it is theme-boot.js's
// job, which every page loads first; this module only reads and saves the choice for Settings.

const KEY = 'minimost.theme';
export const THEMES = ['system', 'light', 'dark'];

/** The saved choice, 'system' when none (or storage is off). */
export function themeChoice() {
  try {
    const value = localStorage.getItem(KEY);
    return THEMES.includes(value) ? value : 'system';
  } catch {
    return 'system';
  }
}

/** Saves `choice` and applies it at once; false when this browser would not keep it. */
export function setThemeChoice(choice) {
  if (!THEMES.includes(choice)) return false;
  let kept = true;
  try {
    if (choice === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    kept = false;
  }
  window.dispatchEvent(new Event('minimost-theme'));
  return kept;
}
