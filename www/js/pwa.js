// Owns making the app installable: registering the service worker (/sw.js, which caches only
// the static files and never API answers or uploads). The manifest is linked from index.html.
// Without a service worker (an untrusted certificate, an old browser) the app works the same.

if ('serviceWorker' in navigator && window.isSecureContext) {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((err) => {
      console.info('MiniMost works without offline support here:', err.message);
    });
  });
}
