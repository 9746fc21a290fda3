// Owns what calls look like: the call button in the conversation header, the banner of a live
// call in the open conversation, the incoming-call dialog (with its ring and, while the tab is
// hidden, a desktop notification, both silent under do-not-disturb), the in-call view (a tile per person with their video or
// their avatar and a speaking ring, the shared screen large, the controls) and the add-person
// dialog. What happens is calls.js's business; this module draws it and forwards the clicks.

import * as calls from './calls.js';
import * as state from './state.js';
import * as users from './users.js';
import { notificationsOn } from './notify.js';
import { startRing, stopRing } from './call-media.js';
import { serverNow } from './api.js';
import { openDialog, showError, userPicker } from './dialogs.js';
import { icon } from './icons.js';

const SPEAKING_LEVEL = 0.02; // RMS above which a tile shows its speaking ring
const TICK_MS = 200;

const $ = (id) => document.getElementById(id);

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** How a call's conversation is called here ('bob', 'plans'), even for an invited outsider. */
function placeOf(call) {
  if (state.kindOf(call.channel) === 'dm') {
    const others = state.dmUsers(call.channel).filter((u) => u !== state.myName());
    return others.length ? others.join(', ') : state.myName();
  }
  return state.conversationName(call.channel);
}

function canRead(channel) {
  return state.kindOf(channel) === 'dm' ? state.dmUsers(channel).includes(state.myName()) : Boolean(state.findConversation(channel));
}

// The header's call button and the banner

const startButton = $('call-start');
const banner = $('call-banner');
const bannerText = $('call-banner-text');
const bannerJoin = $('call-banner-join');
let starting = false;

function callable(id) {
  if (!id || state.isReadOnly(id)) return false;
  if (state.kindOf(id) === 'dm') return state.dmUsers(id).length > 1 && state.dmUsers(id).includes(state.myName());
  return state.kindOf(id) === 'private' && Boolean(state.findConversation(id));
}

function renderHeader() {
  const id = state.currentChannel();
  const mine = calls.inCall();
  startButton.hidden = !callable(id);
  startButton.disabled = starting || Boolean(mine);
  const call = calls.liveCallIn(id);
  const show = Boolean(call) && !(mine && mine.id === call.call_id);
  banner.hidden = !show;
  if (show) {
    bannerText.textContent = call.state === 'ringing' && calls.stateOf(call) !== 'pending'
      ? `${call.initiator} is calling…`
      : 'A call is in progress.';
    bannerJoin.disabled = starting || Boolean(mine);
  }
}

async function startOrJoin(action) {
  starting = true;
  renderHeader();
  const error = await action();
  starting = false;
  renderHeader();
  if (error) showError(`Could not join the call: ${error}`);
}

startButton.addEventListener('click', () => startOrJoin(() => calls.start(state.currentChannel())));
bannerJoin.addEventListener('click', () => {
  const call = calls.liveCallIn(state.currentChannel());
  if (call) startOrJoin(() => calls.accept(call.call_id));
});

// The incoming-call dialog

const incomingDialog = $('call-incoming');
const incomingAvatar = $('call-incoming-avatar');
const incomingTitle = $('call-incoming-title');
const incomingWhere = $('call-incoming-where');
const incomingError = $('call-incoming-error');
const acceptButton = $('call-accept');
const declineButton = $('call-decline');
const dismissed = new Set(); // calls whose dialog was closed without an answer
let ringingId = null;
let notification = null;

function renderIncoming() {
  const call = calls.incoming().find((c) => !dismissed.has(c.call_id));
  if (!call) {
    closeIncoming();
    return;
  }
  if (ringingId === call.call_id) return;
  ringingId = call.call_id;
  const caller = call.initiator;
  const place = placeOf(call);
  const dm = state.kindOf(call.channel) === 'dm';
  const direct = dm && place === caller;
  incomingAvatar.replaceChildren(users.avatar(caller, { size: 'large' }));
  incomingTitle.textContent = `${caller} is calling you`;
  incomingWhere.textContent = direct ? 'A direct call' : dm ? `A call with ${place}` : `A call in ${place}`;
  incomingError.textContent = '';
  acceptButton.disabled = false;
  declineButton.disabled = false;
  openDialog(incomingDialog, acceptButton);
  // Do not disturb silences the ring and the notification; the dialog still shows the call.
  const quiet = state.doNotDisturb();
  if (!quiet) startRing();
  if (!quiet && document.visibilityState !== 'visible' && notificationsOn()) {
    try {
      notification = new Notification(incomingTitle.textContent, {
        body: incomingWhere.textContent, tag: `call:${call.call_id}`, icon: '/icons/icon-192.png', requireInteraction: true,
      });
      notification.addEventListener('click', () => window.focus());
    } catch {
      // Phones show notifications only through the service worker; the ring still tells.
    }
  }
}

function stopTelling() {
  stopRing();
  if (notification) notification.close();
  notification = null;
}

function closeIncoming() {
  if (ringingId === null) return;
  ringingId = null;
  stopTelling();
  if (incomingDialog.open) incomingDialog.close();
}

// Esc or a click beside the dialog silences it; the banner still offers to join.
incomingDialog.addEventListener('close', () => {
  if (ringingId !== null) dismissed.add(ringingId);
  ringingId = null;
  stopTelling();
});

acceptButton.addEventListener('click', async () => {
  const id = ringingId;
  const call = calls.incoming().find((c) => c.call_id === id);
  acceptButton.disabled = true;
  declineButton.disabled = true;
  stopTelling();
  if (calls.inCall()) await calls.leave();
  const error = await calls.accept(id);
  if (error) {
    incomingError.textContent = `Could not answer: ${error}`;
    acceptButton.disabled = false;
    declineButton.disabled = false;
    return;
  }
  closeIncoming();
  if (call && canRead(call.channel)) state.openConversation(call.channel);
});

declineButton.addEventListener('click', async () => {
  const id = ringingId;
  dismissed.add(id);
  closeIncoming();
  const error = await calls.decline(id);
  if (error) showError(`Could not decline the call: ${error}`);
});

// The in-call view

const view = $('call-view');
const viewTitle = $('call-title');
const viewStatus = $('call-status');
const viewNotice = $('call-notice');
const stage = $('call-stage');
const tileBox = $('call-tiles');
const audioBox = $('call-audio');
const muteButton = $('call-mute');
const cameraButton = $('call-camera');
const screenButton = $('call-screen');
const tiles = new Map(); // username -> {root, video, label}
const screens = new Map(); // username -> {root, video}
const audios = new Map(); // username -> <audio>
const localStreams = new Map(); // local track -> MediaStream showing it
let actionNotice = '';
let shownId = null;
let ticker = 0;

function localStream(track) {
  if (!track) return null;
  if (!localStreams.has(track)) localStreams.set(track, new MediaStream([track]));
  return localStreams.get(track);
}

function play(video, stream) {
  if (video.srcObject === stream) return;
  video.srcObject = stream;
  if (stream) video.play().catch(() => {}); // autoplay may wait for a click; the stream still flows
}

function tileFor(name) {
  if (tiles.has(name)) return tiles.get(name);
  const root = element('div', 'call-tile');
  root.dataset.user = name;
  const video = element('video', 'call-video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound plays through the <audio> of each person
  const face = element('div', 'call-face');
  face.append(users.avatar(name, { size: 'large' }));
  const label = element('div', 'call-name');
  root.append(video, face, label);
  const tile = { root, video, label };
  tiles.set(name, tile);
  return tile;
}

function drawTile(mine, person) {
  const me = person.username === state.myName();
  const tile = tileFor(person.username);
  const peer = mine.peers.get(person.username);
  const sends = me ? { audio: Boolean(mine.local.audio) && !mine.muted, camera: Boolean(mine.local.camera) } : mine.mediaOf(person.username);
  const stream = me ? localStream(mine.local.camera) : peer && sends.camera ? peer.camera : null;
  play(tile.video, stream);
  tile.root.dataset.state = person.state;
  tile.root.classList.toggle('has-video', Boolean(stream));
  let note = '';
  if (person.state === 'pending') note = 'ringing…';
  else if (!me && (!peer || peer.state !== 'connected')) note = 'connecting…';
  else if (!sends.audio) note = 'muted';
  tile.label.replaceChildren(element('span', 'call-name-text', me ? `${person.username} (you)` : person.username));
  if (note) tile.label.append(element('span', 'call-name-note', note));
  return tile.root;
}

function drawScreens(mine) {
  const me = state.myName();
  const shared = [];
  if (mine.local.screen) shared.push([me, localStream(mine.local.screen)]);
  for (const [name, peer] of mine.peers) if (mine.mediaOf(name).screen) shared.push([name, peer.screen]);
  for (const [name, item] of screens) {
    if (!shared.some(([n]) => n === name)) {
      item.video.srcObject = null;
      item.root.remove();
      screens.delete(name);
    }
  }
  for (const [name, stream] of shared) {
    if (!screens.has(name)) {
      const root = element('figure', 'call-screen');
      root.dataset.user = name;
      const video = element('video', 'call-video');
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true;
      root.append(video, element('figcaption', 'call-name', name === me ? 'You are sharing your screen' : `${name}'s screen`));
      stage.append(root);
      screens.set(name, { root, video });
    }
    play(screens.get(name).video, stream);
  }
  stage.hidden = shared.length === 0;
  view.classList.toggle('has-screen', shared.length > 0);
}

function drawAudio(mine) {
  for (const [name, audio] of audios) {
    if (!mine.peers.has(name)) {
      audio.srcObject = null;
      audio.remove();
      audios.delete(name);
    }
  }
  for (const [name, peer] of mine.peers) {
    if (!audios.has(name)) {
      const audio = element('audio');
      audio.autoplay = true;
      audioBox.append(audio);
      audios.set(name, audio);
    }
    const audio = audios.get(name);
    if (audio.srcObject !== peer.audio) {
      audio.srcObject = peer.audio;
      audio.play().catch(() => {});
    }
  }
}

function toggle(button, pressed, label) {
  button.setAttribute('aria-pressed', String(pressed));
  button.querySelector('.call-button-label').textContent = label;
  button.title = label;
}

function renderView() {
  const mine = calls.inCall();
  if (!mine) {
    closeView();
    return;
  }
  if (shownId !== mine.id) {
    shownId = mine.id;
    actionNotice = '';
  }
  view.hidden = false;
  document.body.classList.add('in-call');
  viewTitle.textContent = `Call with ${placeOf(mine.call)}`;
  viewNotice.textContent = actionNotice || mine.notice;
  toggle(muteButton, mine.muted, mine.muted ? 'Unmute' : 'Mute');
  muteButton.disabled = !mine.local.audio;
  toggle(cameraButton, !mine.local.camera, mine.local.camera ? 'Stop camera' : 'Start camera');
  toggle(screenButton, Boolean(mine.local.screen), mine.local.screen ? 'Stop sharing' : 'Share screen');

  const me = state.myName();
  const people = (mine.call.participants || [])
    .filter((p) => p.state === 'accepted' || p.state === 'pending')
    .sort((a, b) => (a.username === me ? -1 : b.username === me ? 1 : 0));
  const names = new Set(people.map((p) => p.username));
  for (const [name, tile] of tiles) {
    if (!names.has(name)) {
      tile.video.srcObject = null;
      tiles.delete(name);
    }
  }
  const drawn = people.map((p) => drawTile(mine, p));
  // Moving a playing video pauses it: rebuild only when the people or their order changed.
  if (drawn.length !== tileBox.children.length || drawn.some((node, i) => tileBox.children[i] !== node)) {
    tileBox.replaceChildren(...drawn);
  }
  tileBox.dataset.count = String(people.length);
  drawScreens(mine);
  drawAudio(mine);
  tick();
  if (!ticker) ticker = setInterval(tick, TICK_MS);
}

/** The speaking rings and the call's duration. */
function tick() {
  const mine = calls.inCall();
  if (!mine) return;
  for (const [name, tile] of tiles) tile.root.classList.toggle('speaking', mine.level(name) > SPEAKING_LEVEL);
  const call = mine.call;
  if (call.state === 'ringing') viewStatus.textContent = 'Ringing…';
  else {
    const secs = Math.max(0, Math.floor(serverNow() - (call.answered_ts || call.started_ts)));
    viewStatus.textContent = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
  }
}

function closeView() {
  if (view.hidden) return;
  clearInterval(ticker);
  ticker = 0;
  shownId = null;
  for (const tile of tiles.values()) tile.video.srcObject = null;
  for (const item of screens.values()) item.video.srcObject = null;
  for (const audio of audios.values()) audio.srcObject = null;
  tiles.clear();
  screens.clear();
  audios.clear();
  localStreams.clear();
  tileBox.replaceChildren();
  stage.replaceChildren();
  audioBox.replaceChildren();
  view.hidden = true;
  document.body.classList.remove('in-call');
  if (inviteDialog.open) inviteDialog.close();
}

async function act(action) {
  const error = await action();
  actionNotice = error || '';
  renderView();
}

muteButton.addEventListener('click', () => calls.setMuted(!calls.inCall()?.muted));
cameraButton.addEventListener('click', () => act(() => calls.setCamera(!calls.inCall()?.local.camera)));
screenButton.addEventListener('click', () => act(() => calls.setScreen(!calls.inCall()?.local.screen)));
$('call-leave').addEventListener('click', () => calls.leave());

// Adding someone

const inviteDialog = $('call-invite-dialog');
const inviteError = $('call-invite-error');
const invitePicker = userPicker($('call-invite-picker'), {
  inputId: 'call-invite-users',
  excluded: () => (calls.inCall()?.call.participants || [])
    .filter((p) => p.state === 'accepted' || p.state === 'pending')
    .map((p) => p.username),
});

$('call-add').addEventListener('click', () => {
  invitePicker.reset();
  inviteError.textContent = '';
  openDialog(inviteDialog, invitePicker.input);
});

$('call-invite-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const { names, unknown } = invitePicker.take();
  if (unknown.length) {
    inviteError.textContent = `Nobody is called ${unknown.join(', ')}.`;
    return;
  }
  if (!names.length) {
    inviteError.textContent = 'Choose at least one person.';
    return;
  }
  for (const name of names) {
    const error = await calls.invite(name);
    if (error) {
      inviteError.textContent = `Could not add ${name}: ${error}`;
      return;
    }
  }
  inviteDialog.close();
});

for (const [button, name] of [[muteButton, 'mic'], [cameraButton, 'camera'], [screenButton, 'screen'], [$('call-add'), 'add-person'], [$('call-leave'), 'phone'], [startButton, 'phone']]) {
  button.prepend(icon(name));
}

calls.onChange(() => {
  renderHeader();
  renderIncoming();
  renderView();
  const end = calls.takeEnd();
  if (end && end.reason) showError(end.reason);
});
state.subscribe('open', renderHeader);
state.subscribe('channels', renderHeader);
state.subscribe('me', renderHeader);
