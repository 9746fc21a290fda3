// Owns the join page: fills in this server's address and its certificate authority's
// fingerprint from /api/join, and, when the page was opened from the code (…/join#sha256=…),
// says whether the server's fingerprint is the one the code carried. No login, no state.

const show = (id, text) => {
  document.getElementById(id).textContent = text;
};

async function load() {
  const response = await fetch('/api/join');
  if (!response.ok) return;
  const info = await response.json();
  const link = document.getElementById('url');
  link.href = info.url;
  link.textContent = info.url;
  if (!info.fingerprint) return; // the admin brought a certificate devices already trust
  document.getElementById('trust').hidden = false;
  show('fingerprint', info.fingerprint);
  document.getElementById('download').href = info.ca_url;
  const scanned = new URLSearchParams(location.hash.slice(1)).get('sha256');
  if (scanned) {
    const same = scanned.toUpperCase() === info.fingerprint.replaceAll(':', '').toUpperCase();
    show(
      'check',
      same
        ? 'This is the server the code points to: the fingerprints match.'
        : 'Warning: this server’s fingerprint is NOT the one in the code. Do not trust it; ask your administrator.',
    );
  }
}

load().catch(() => {});
