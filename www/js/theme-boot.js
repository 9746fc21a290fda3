// Owns applying the colour theme before the page is first painted: a classic script loaded
// (not deferred) in every page's <head>, so there is never a flash of the other theme. It reads
// the choice theme.js keeps in localStorage ('light', 'dark' or, by default, 'system'), sets
// <html data-theme="light|dark"> and the browser's colour hints, and follows the system's
// preference — and choices made in other tabs — while the page is open. It must stay tiny and
// free of imports: it runs before anything else.

(function applyTheme() {
  const KEY = 'minimost.theme';
  const systemLight = window.matchMedia('(prefers-color-scheme: light)');

  function choice() {
    try {
      const value = localStorage.getItem(KEY);
      return value === 'light' || value === 'dark' ? value : 'system';
    } catch {
      return 'system'; // storage may be disabled; follow the system then
    }
  }

  function apply() {
    const wanted = choice();
    const theme = wanted === 'system' ? (systemLight.matches ? 'light' : 'dark') : wanted;
    const root = document.documentElement;
    root.dataset.theme = theme;
    root.dataset.themeChoice = wanted;
    const scheme = document.querySelector('meta[name="color-scheme"]');
    if (scheme) scheme.content = theme;
    // The browser's own bar follows the top bar's colour (--surface).
    const bar = document.querySelector('meta[name="theme-color"]');
    if (bar) bar.content = theme === 'light' ? '#ffffff' : '#181c22';
  }

  apply();
  systemLight.addEventListener('change', apply);
  window.addEventListener('storage', (event) => {
    if (event.key === KEY || event.key === null) apply();
  });
  // theme.js asks for a new look after saving a choice in this tab.
  window.addEventListener('minimost-theme', apply);
}());
