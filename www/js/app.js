// Owns the app page's start and its shell: who is signed in (GET /api/me and `hello`, shown
// with their colour and picture), logging out (the profile menu's last item), the connection
// indicator and the banner while the socket is down, and choosing the first conversation once
// the list is loaded. Every feature lives in its own module, imported here for its side
// effects; they talk through state.js and socket.js.

import { request, describeError, NetworkError } from './api.js';
import * as socket from './socket.js';
import * as state from './state.js';
import * as users from './users.js';
import { startOnlineList } from './presence.js';
import { loadReactions } from './reactions.js';
import './sidebar.js';
import './messages.js';
import './reading.js';
import './message-actions.js';
import './pins.js';
import './action-sheet.js';
import './visual-mode.js';
import './composer.js';
import './mention-complete.js';
import './mentions.js';
import './notification-levels.js';
import './typing.js';
import './conversations.js';
import './keyboard.js';
import './search.js';
import './settings.js';
import './profile-menu.js';
import './notify.js';
import './call-view.js';
import './pwa.js';

const meLabel = document.getElementById('me');
const meAvatar = document.getElementById('me-avatar');
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
// Without a socket the app still works from the API, if slowly out of date; don't wait forever.
const START_WITHOUT_SOCKET_MS = 4000;

function goToLogin() {
  location.replace('/login');
}

function showUser(username) {
  if (!username) return;
  meLabel.textContent = username;
  state.setMe(username);
  showMyLook();
}

/** My name in my colour, and my picture, in the top bar. */
function showMyLook() {
  const me = state.myName();
  if (!me) return;
  const user = users.getUser(me);
  const color = user ? user.name_color : state.myProfile()?.name_color;
  if (typeof color === 'string' && /^#[0-9a-f]{6}$/i.test(color)) meLabel.style.setProperty('--name-color', color);
  else meLabel.style.removeProperty('--name-color');
  meAvatar.replaceChildren(users.avatar(me, { size: 'small' }));
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
  state.setProfile(me);
  showUser(me.username);
  if (me.version) version.textContent = `MiniMost ${me.version}`;
  setTimeout(start, START_WITHOUT_SOCKET_MS);
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

let started = false;

/** Loads the conversation list and opens the first conversation (once). */
async function start() {
  if (started || !state.myName()) return;
  started = true;
  loadReactions();
  const error = await state.refreshChannels();
  if (error) appError.textContent = `Could not load your conversations: ${error}`;
  state.openConversation(initialConversation());
}

function initialConversation() {
  const wanted = state.requestedConversation();
  if (wanted && (state.findConversation(wanted) || (state.kindOf(wanted) === 'dm' && state.dmUsers(wanted).includes(state.myName())))) {
    return wanted;
  }
  return state.channelLists().public[0]?.id || state.conversationOrder()[0]?.id || 'general';
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

socket.onState((connectionState) => {
  connection.dataset.state = connectionState;
  connectionStatus.textContent = STATUS_TEXT[connectionState] || connectionState;
  const down = connectionState === 'reconnecting';
  banner.textContent = down ? 'Connection lost. Reconnecting… Messages will catch up when it is back.' : '';
  document.body.classList.toggle('offline', down);
  if (down) checkSession();
});

socket.on('hello', (event) => {
  showUser(event.user);
  loadMe();
  if (started) state.refreshChannels(); // catch up on the sidebar after a reconnect
  else start();
});
socket.on('channels', () => state.refreshChannels());
socket.on('session_revoked', () => {
  socket.disconnect();
  goToLogin();
});

logoutButton.addEventListener('click', logOut);
users.onChange(showMyLook);
startOnlineList(document.getElementById('online'), document.getElementById('online-empty'));
loadMe();
socket.connect();
