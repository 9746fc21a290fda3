// Owns calls in this tab: the live calls the server told us about (`call` events), the one call
// this tab is in (its local tracks, one RTCPeerConnection per other person in it, level meters),
// the signalling over the socket (`call_signal`), and the actions: start or join, accept,
// decline, invite, mute, camera, screen, leave. It never touches the DOM: call-view.js draws
// what `onChange` reports.
//
// WebRTC is a full mesh. In each pair the person whose username sorts first offers, once, with
// three transceivers in a fixed order (microphone, camera, screen); the other answers, so two
// peers never both offer. Turning the camera or the screen on and off swaps tracks with
// RTCRtpSender.replaceTrack and never renegotiates (the one later offer is an ICE restart, from
// the same side). Each side also signals `{media: {audio, camera, screen}}`, what it sends, so
// the others show a picture or an avatar, and a shared screen large. Signals carry the offerer's
// `session`, so a peer who left and came back starts afresh.
//
// Debug hook for the browser tests (reads only): window.__minimostCalls.peerConnections() lists
// the call's RTCPeerConnections, .iceServers() its ICE configuration, .ringing() whether the
// ring sounds.

import { request, describeError } from './api.js';
import * as socket from './socket.js';
import * as state from './state.js';
import * as media from './call-media.js';

const LIVE = new Set(['ringing', 'active']);
const ROLES = ['audio', 'camera', 'screen']; // the transceivers, in m-line order
const KINDS = { audio: 'audio', camera: 'video', screen: 'video' };
const EARLY_SIGNAL_MS = 10000;

const listeners = new Set();
const live = new Map(); // channel -> the live call object we last heard of
let early = []; // signals for a call we are about to be in: {at, event}
let current = null; // the call this tab is in (see `enter`)

/** Calls `handler()` after every change to calls; returns an unsubscribe function. */
export function onChange(handler) {
  listeners.add(handler);
  return () => listeners.delete(handler);
}

function changed() {
  for (const handler of [...listeners]) {
    try {
      handler();
    } catch (err) {
      console.error(err);
    }
  }
}

export function isLive(call) {
  return Boolean(call) && LIVE.has(call.state);
}

/** `name`'s state in `call` ('pending', 'accepted', 'rejected', 'left') or null. */
export function stateOf(call, name = state.myName()) {
  const found = (call && Array.isArray(call.participants) ? call.participants : []).find((p) => p.username === name);
  return found ? found.state : null;
}

/** The live call in conversation `channel`, if we heard of one. */
export function liveCallIn(channel) {
  return live.get(channel) || null;
}

/** The live calls ringing me that this tab is not in. */
export function incoming() {
  return [...live.values()].filter((c) => stateOf(c) === 'pending' && (!current || c.call_id !== current.id));
}

/**
 * The call this tab is in, or null: `{id, call, local: {audio, camera, screen}, muted, notice,
 * peers: Map(name -> {stream, screen, audio})}`, plus `mediaOf(name)` (what they send) and
 * `level(name)` (their loudness now).
 */
export function inCall() {
  if (!current) return null;
  const peers = new Map();
  for (const [name, p] of current.peers) peers.set(name, { audio: p.audioStream, camera: p.cameraStream, screen: p.screenStream, state: p.pc.connectionState });
  return {
    id: current.id,
    call: current.call,
    local: { ...current.local },
    muted: current.muted,
    notice: current.notice,
    peers,
    mediaOf: (name) => current?.remoteMedia.get(name) || { audio: false, camera: false, screen: false },
    level: (name) => {
      if (!current) return 0;
      if (name === state.myName()) return current.muted ? 0 : current.localMeter.level();
      const peer = current.peers.get(name);
      return peer && peer.meter ? peer.meter.level() : 0;
    },
  };
}

function remember(call) {
  if (isLive(call)) live.set(call.channel, call);
  else if (live.get(call.channel)?.call_id === call.call_id) live.delete(call.channel);
}

// Actions. Each resolves to an error text ('' when it worked).

async function post(path, body) {
  try {
    const result = await request('POST', path, body);
    return result.ok && result.data ? { call: result.data } : { error: describeError(result) };
  } catch (err) {
    return { error: err.message };
  }
}

async function iceServers() {
  try {
    const result = await request('GET', '/api/ice-servers');
    if (result.ok && result.data && Array.isArray(result.data.iceServers)) return result.data.iceServers;
  } catch {
    // No STUN: browsers on one network still find each other.
  }
  return [];
}

async function join(path, body) {
  if (current) return 'You are already in a call. Leave it first.';
  const [servers, local] = await Promise.all([iceServers(), media.getLocalMedia()]);
  const done = await post(path, body);
  if (done.error || current) {
    for (const track of [local.audio, local.camera]) if (track) track.stop();
    return done.error || 'You are already in a call. Leave it first.';
  }
  enter(done.call, servers, local);
  return '';
}

/** Starts a call in `channel`, or joins the one live there. */
export function start(channel) {
  return join('/api/calls', { channel });
}

/** Answers call `id`. */
export function accept(id) {
  return join(`/api/calls/${encodeURIComponent(id)}/accept`);
}

/** Declines call `id`. */
export async function decline(id) {
  const done = await post(`/api/calls/${encodeURIComponent(id)}/reject`);
  if (done.call) remember(done.call);
  changed();
  return done.error || '';
}

/** Rings `username` into the call this tab is in. */
export async function invite(username) {
  if (!current) return 'You are not in a call.';
  const done = await post(`/api/calls/${encodeURIComponent(current.id)}/invite`, { username });
  return done.error || '';
}

/** Leaves the call this tab is in (tracks and connections stop at once). */
export async function leave() {
  if (!current) return;
  const id = current.id;
  teardown('');
  await post(`/api/calls/${encodeURIComponent(id)}/leave`);
}

export function setMuted(muted) {
  if (!current) return;
  current.muted = muted;
  if (current.local.audio) current.local.audio.enabled = !muted;
  announceMedia();
  changed();
}

/** Turns the camera on or off; resolves to an error text. */
export async function setCamera(on) {
  if (!current) return '';
  let track = null;
  if (on) {
    const got = await media.getCamera();
    if (got.error) return got.error;
    track = got.track;
  }
  return useTrack('camera', track);
}

/** Starts or stops sharing the screen; resolves to an error text. */
export async function setScreen(on) {
  if (!current) return '';
  let track = null;
  if (on) {
    const got = await media.getScreen();
    if (got.error) return got.error;
    track = got.track;
    // The browser's own "Stop sharing" button ends the track.
    track.addEventListener('ended', () => {
      if (current && current.local.screen === track) useTrack('screen', null);
    });
  }
  return useTrack('screen', track);
}

function useTrack(role, track) {
  if (!current) {
    if (track) track.stop();
    return '';
  }
  const old = current.local[role];
  if (old && old !== track) old.stop();
  current.local[role] = track;
  for (const peer of current.peers.values()) sendTrack(peer, role);
  announceMedia();
  changed();
  return '';
}

// Being in a call

function enter(call, servers, local) {
  current = {
    id: call.call_id,
    call,
    iceServers: servers,
    local: { audio: local.audio, camera: local.camera, screen: null },
    localMeter: media.meter(local.audio ? new MediaStream([local.audio]) : null),
    muted: false,
    notice: local.notice,
    peers: new Map(),
    remoteMedia: new Map(),
    chain: Promise.resolve(),
  };
  remember(call);
  syncPeers();
  const waiting = early.filter((e) => e.event.call_id === current.id);
  early = [];
  for (const { event } of waiting) queueSignal(event);
  changed();
}

/** Ends this tab's part in the call: every track, connection, meter; `reason` says why. */
function teardown(reason) {
  if (!current) return;
  const ending = current;
  current = null;
  for (const track of Object.values(ending.local)) if (track) track.stop();
  for (const peer of ending.peers.values()) closePeer(peer, ending);
  ending.localMeter.stop();
  lastEnd = { id: ending.id, reason };
  changed();
}

let lastEnd = null;

/** Why this tab's last call ended ({id, reason}), for the view to say once. */
export function takeEnd() {
  const end = lastEnd;
  lastEnd = null;
  return end;
}

function endWording(call) {
  if (call.state === 'rejected') {
    const who = (call.participants || []).find((p) => p.state === 'rejected');
    return who ? `${who.username} declined the call.` : 'The call was declined.';
  }
  if (!call.answered_ts) return 'Nobody answered.';
  return 'The call ended.';
}

/** Opens a connection to every other accepted person we offer to; closes those who left. */
function syncPeers() {
  const me = state.myName();
  const others = new Set((current.call.participants || [])
    .filter((p) => p.state === 'accepted' && p.username !== me)
    .map((p) => p.username));
  for (const [name, peer] of current.peers) if (!others.has(name)) closePeer(peer, current);
  for (const name of others) if (!current.peers.has(name) && me < name) createPeer(name, true, randomId());
}

function randomId() {
  return Array.from(crypto.getRandomValues(new Uint32Array(2)), (n) => n.toString(36)).join('');
}

function createPeer(name, offerer, session) {
  const pc = new RTCPeerConnection({ iceServers: current.iceServers });
  const peer = { name, pc, offerer, session, transceivers: [], pending: [], meter: null, audioStream: null, cameraStream: null, screenStream: null };
  current.peers.set(name, peer);
  pc.addEventListener('icecandidate', (event) => {
    if (event.candidate) signal(name, { session: peer.session, candidate: event.candidate.toJSON() });
  });
  pc.addEventListener('negotiationneeded', () => {
    if (peer.offerer) sendOffer(peer);
  });
  pc.addEventListener('connectionstatechange', () => {
    if (pc.connectionState === 'failed' && peer.offerer) pc.restartIce();
    changed();
  });
  if (offerer) {
    peer.transceivers = ROLES.map((role) => pc.addTransceiver(KINDS[role], { direction: 'sendrecv' }));
    ready(peer);
  }
  return peer;
}

/** Once the transceivers exist: our tracks on them, and their tracks as streams to show. */
function ready(peer) {
  for (const role of ROLES) sendTrack(peer, role);
  const [audio, camera, screen] = peer.transceivers.map((t) => t.receiver.track);
  peer.audioStream = new MediaStream([audio]);
  peer.cameraStream = new MediaStream([camera]);
  peer.screenStream = new MediaStream([screen]);
  peer.meter = media.meter(peer.audioStream);
  changed();
}

function sendTrack(peer, role) {
  const transceiver = peer.transceivers[ROLES.indexOf(role)];
  if (transceiver) transceiver.sender.replaceTrack(current.local[role] || null).catch((err) => console.warn(err));
}

function closePeer(peer, call) {
  if (peer.meter) peer.meter.stop();
  peer.pc.close();
  if (call.peers.get(peer.name) === peer) call.peers.delete(peer.name);
  call.remoteMedia.delete(peer.name);
}

async function sendOffer(peer) {
  try {
    await peer.pc.setLocalDescription();
    signal(peer.name, { session: peer.session, description: peer.pc.localDescription.toJSON() });
    signal(peer.name, { media: myMedia() });
  } catch (err) {
    console.warn('Could not make a call offer', err);
  }
}

function myMedia() {
  const local = current.local;
  return { audio: Boolean(local.audio) && !current.muted, camera: Boolean(local.camera), screen: Boolean(local.screen) };
}

function announceMedia() {
  for (const name of current.peers.keys()) signal(name, { media: myMedia() });
}

function signal(to, data) {
  if (current) socket.send({ type: 'call_signal', call_id: current.id, to, data });
}

// Signals are handled one at a time, in the order they came.
function queueSignal(event) {
  const call = current;
  call.chain = call.chain.then(() => (current === call ? handleSignal(event.from, event.data) : null)).catch((err) => {
    console.warn('A call signal failed', err);
  });
}

async function handleSignal(from, data) {
  if (typeof from !== 'string' || !data || typeof data !== 'object') return;
  if (data.media && typeof data.media === 'object') {
    const m = data.media;
    current.remoteMedia.set(from, { audio: m.audio === true, camera: m.camera === true, screen: m.screen === true });
    changed();
    return;
  }
  let peer = current.peers.get(from);
  const description = data.description;
  if (description && description.type === 'offer') {
    if (peer && (peer.offerer || peer.session !== data.session)) {
      closePeer(peer, current);
      peer = null;
    }
    peer ||= createPeer(from, false, data.session);
    await peer.pc.setRemoteDescription(description);
    if (!peer.transceivers.length) {
      peer.transceivers = peer.pc.getTransceivers().slice(0, ROLES.length);
      for (const t of peer.transceivers) t.direction = 'sendrecv';
      ready(peer);
    }
    await peer.pc.setLocalDescription();
    signal(from, { session: peer.session, description: peer.pc.localDescription.toJSON() });
    signal(from, { media: myMedia() });
    await addPending(peer);
  } else if (description && description.type === 'answer') {
    if (!peer || !peer.offerer || peer.session !== data.session) return;
    await peer.pc.setRemoteDescription(description);
    await addPending(peer);
  } else if (data.candidate && peer && peer.session === data.session) {
    if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(data.candidate);
    else peer.pending.push(data.candidate);
  }
}

async function addPending(peer) {
  const waiting = peer.pending;
  peer.pending = [];
  for (const candidate of waiting) await peer.pc.addIceCandidate(candidate);
}

/** Asks the server whether we are still in the call (after a doubtful event or a reconnect). */
async function recheck(id) {
  let call = null;
  try {
    const result = await request('GET', `/api/calls/${encodeURIComponent(id)}`);
    if (result.ok && result.data) call = result.data;
    else if (result.status !== 404) return; // try again at the next reconnect
  } catch {
    return; // unreachable: the socket's reconnect will ask again
  }
  if (call) remember(call);
  else for (const [channel, known] of live) if (known.call_id === id) live.delete(channel);
  if (current && current.id === id) {
    if (call && isLive(call) && stateOf(call) === 'accepted') {
      current.call = call;
      syncPeers();
    } else {
      teardown(call && !isLive(call) ? endWording(call) : 'You are no longer in the call (the connection was lost).');
    }
  }
  changed();
}

socket.on('call', (event) => {
  const call = event.call;
  if (!call || typeof call.call_id !== 'string' || typeof call.channel !== 'string') return;
  remember(call);
  if (current && call.call_id === current.id) {
    if (!isLive(call)) {
      teardown(endWording(call));
      return;
    }
    if (stateOf(call) !== 'accepted') {
      recheck(call.call_id); // left from another tab, or an event older than our answer
      return;
    }
    current.call = call;
    syncPeers();
  }
  changed();
});

socket.on('call_signal', (event) => {
  if (current && event.call_id === current.id) {
    queueSignal(event);
    return;
  }
  // An offer may overtake the answer to our accept: keep it a moment.
  const now = Date.now();
  early = early.filter((e) => now - e.at < EARLY_SIGNAL_MS);
  early.push({ at: now, event });
});

socket.on('call_signal_refused', (event) => {
  console.warn(`A call signal to ${event.to} was refused: ${event.reason}`);
});

// After a reconnect the server may have taken us out of the call (our last socket closed), and
// the live calls we knew of may have ended.
socket.on('hello', () => {
  if (current) recheck(current.id);
  for (const call of [...live.values()]) if (!current || call.call_id !== current.id) recheck(call.call_id);
  loadLive();
});

/** Learns the live calls we are in or may join (a page that just loaded knows of none). */
async function loadLive() {
  let result;
  try {
    result = await request('GET', '/api/calls');
  } catch {
    return; // the next reconnect asks again
  }
  if (!result.ok || !Array.isArray(result.data)) return;
  for (const call of result.data) {
    if (call && typeof call.call_id === 'string' && typeof call.channel === 'string') remember(call);
  }
  changed();
}

window.addEventListener('pagehide', () => teardown(''));

window.__minimostCalls = Object.freeze({
  peerConnections: () => (current ? [...current.peers.values()].map((p) => p.pc) : []),
  iceServers: () => (current ? current.iceServers : null),
  ringing: () => media.ringing(),
});
