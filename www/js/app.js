// Owns the app shell: who is signed in (GET /api/me), logging out, the connection indicator
// and the "Reconnecting…" banner. The chat UI will replace the contents of <main id="main">.

import { request, describeError, NetworkError } from './api.js';
import * as socket from './socket.js';
import { startOnlineList } from './presence.js';

const meLabel = document.getElementById('me');
const logoutButton = document.getElementById('logout');
const connection = document.getElementById('connection');
const connectionStatus = document.getElementById('conn-status');
const banner = document.getElementById('banner');
const appError = document.getElementById('app-error');
const version = document.getElementById('version');

const STATUS_TEXT = {
  idle: 'connecting',
  connecting: 'connecting',
  connected: 'connected',
  reconnecting: 'reconnecting',
  closed: 'disconnected',
};

function goToLogin() {
  location.replace('/login');
}

function showUser(username) {
  if (username) meLabel.textContent = username;
}

let meState = 'missing'; // 'missing' | 'loading' | 'loaded'

async function loadMe() {
  if (meState !== 'missing') return;
  meState = 'loading';
  let result;
  try {
    result = await request('GET', '/api/me');
  } catch {
    meState = 'missing'; // The next hello tries again; it also carries the username.
    return;
  }
  if (result.status === 401) return goToLogin();
  if (!result.ok || !result.data) {
    meState = 'missing';
    return;
  }
  meState = 'loaded';
  const me = result.data;
  showUser(me.username);
  if (typeof me.name_color === 'string' && /^#[0-9a-f]{6}$/i.test(me.name_color)) {
    meLabel.style.setProperty('--name-color', me.name_color);
  }
  if (me.version) version.textContent = `MiniMost ${me.version}`;
}

/** While the socket cannot get through, find out whether it is because we were logged out. */
async function checkSession() {
  try {
    const result = await request('GET', '/api/me');
    if (result.status === 401) goToLogin();
  } catch {
    // The server is unreachable; the socket keeps retrying.
  }
}

async function logOut() {
  logoutButton.disabled = true;
  appError.textContent = '';
  socket.disconnect();
  try {
    const result = await request('POST', '/api/logout');
    // 401 means the session was already gone, which is what the user asked for.
    if (result.ok || result.status === 401) return goToLogin();
    appError.textContent = `Could not log out: ${describeError(result)}`;
  } catch (err) {
    appError.textContent = err instanceof NetworkError ? `Could not log out. ${err.message}` : 'Could not log out.';
  }
  logoutButton.disabled = false;
  socket.connect();
}

socket.onState((state) => {
  connection.dataset.state = state;
  connectionStatus.textContent = STATUS_TEXT[state] || state;
  banner.textContent = state === 'reconnecting' ? 'Reconnecting…' : '';
  if (state === 'reconnecting') checkSession();
});

socket.on('hello', (event) => {
  showUser(event.user);
  loadMe();
});
socket.on('session_revoked', () => {
  socket.disconnect();
  goToLogin();
});

logoutButton.addEventListener('click', logOut);
startOnlineList(document.getElementById('online'), document.getElementById('online-empty'));
loadMe();
socket.connect();
