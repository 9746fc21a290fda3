// Owns alerting the user to new messages: a short chime synthesised with Web Audio (no sound
// files) and desktop notifications (after the browser's permission, asked from Settings), both
// of which can be turned off in this browser (localStorage). While MiniMost is in the
// background any message from someone else alerts; in front, only a mention or a direct
// message in another conversation than the open one does. A conversation's level narrows that
// (`mentions`: mentions and direct messages only; `muted`: nothing), do-not-disturb silences
// everything, and a message alerts at most once. Clicking a notification opens its message.
// Each alert's message id is also kept in `window.__minimostAlerts` (the last few), where
// the browser tests look for it.

import * as socket from './socket.js';
import * as state from './state.js';
import * as messages from './messages.js';
import { previewText } from './markdown.js';
import { mentionsMe } from './message-model.js';

const NOTIFY_KEY = 'minimost.notifications';
const SOUND_KEY = 'minimost.sound';
const SOUND_GAP_MS = 1500; // a burst of messages chimes once
const BODY_CHARS = 140;
const REMEMBERED = 200; // message ids kept to alert once each, and alerts kept for the tests

let audio = null;
let lastSoundAt = 0;
const alerted = new Set(); // ids of the messages already considered for an alert

function stored(key, fallback) {
  try {
    const value = localStorage.getItem(key);
    return value === null ? fallback : value === 'on';
  } catch {
    return fallback;
  }
}

function store(key, on) {
  try {
    localStorage.setItem(key, on ? 'on' : 'off');
  } catch {
    // Private browsing may refuse storage; the choice lasts for this page only.
  }
}

export function notificationsSupported() {
  return 'Notification' in window;
}

/** 'granted' | 'denied' | 'default' | 'unsupported' */
export function permission() {
  return notificationsSupported() ? Notification.permission : 'unsupported';
}

/** Whether desktop notifications are wanted and allowed. */
export function notificationsOn() {
  return stored(NOTIFY_KEY, false) && permission() === 'granted';
}

/**
 * Turns desktop notifications on (asking the browser's permission first) or off. Resolves to
 * whether they are on afterwards.
 */
export async function setNotifications(on) {
  if (!on || !notificationsSupported()) {
    store(NOTIFY_KEY, false);
    return false;
  }
  let answer = Notification.permission;
  if (answer === 'default') {
    try {
      answer = await Notification.requestPermission();
    } catch {
      answer = 'denied';
    }
  }
  store(NOTIFY_KEY, answer === 'granted');
  return answer === 'granted';
}

/** Whether the chime plays (on unless the user muted it). */
export function soundOn() {
  return stored(SOUND_KEY, true);
}

export function setSound(on) {
  store(SOUND_KEY, on);
  if (on) unlockAudio();
}

// Browsers start audio only after the user has interacted with the page: make the context on
// the first click or key, so a message arriving later can chime.
function unlockAudio() {
  if (!window.AudioContext) return;
  try {
    audio ||= new AudioContext();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

/** Plays the chime (once the page may make sound at all). */
export function playSound() {
  if (!audio) return;
  if (audio.state === 'suspended') audio.resume().then(chime, () => {});
  else if (audio.state === 'running') chime();
}

/** Two short sine tones, a fifth apart, fading in and out so they do not click. */
function chime() {
  const start = audio.currentTime + 0.01;
  for (const [offset, frequency] of [[0, 880], [0.11, 1318.5]]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.type = 'sine';
    tone.frequency.value = frequency;
    const t = start + offset;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.18, t + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.22);
    tone.connect(gain).connect(audio.destination);
    tone.start(t);
    tone.stop(t + 0.25);
  }
}

function inBackground() {
  return document.visibilityState !== 'visible' || !document.hasFocus();
}

function title(m) {
  const kind = state.kindOf(m.channel);
  if (kind === 'dm') return m.sender;
  return `${m.sender} in ${kind === 'public' ? '#' : ''}${state.conversationName(m.channel)}`;
}

function openMessage(channel, id) {
  window.focus();
  messages.showMessage(channel, id);
}

async function showNotification(m) {
  const options = { body: previewText(m, BODY_CHARS), tag: m.channel, icon: '/icons/icon-192.png', data: { channel: m.channel, id: m.id } };
  try {
    const notification = new Notification(title(m), options);
    notification.addEventListener('click', () => {
      openMessage(m.channel, m.id);
      notification.close();
    });
  } catch {
    // Phones allow notifications only through the service worker (see sw.js for the click).
    try {
      const registration = await navigator.serviceWorker?.getRegistration();
      await registration?.showNotification(title(m), options);
    } catch {
      // Nothing more to try: the unread badge still tells.
    }
  }
}

/** Whether new message `m` (someone else's) calls for an alert, by the rules above. */
function deservesAlert(m) {
  if (state.doNotDisturb()) return false;
  const level = state.levelOf(m.channel);
  if (level === 'muted') return false;
  const forMe = state.kindOf(m.channel) === 'dm' || mentionsMe(m, state.myName());
  if (level === 'mentions' && !forMe) return false;
  if (inBackground()) return true;
  // In front of the user, what they are looking at needs no alert; a call for them elsewhere does.
  return forMe && m.channel !== state.currentChannel();
}

/** Records an alert where the browser tests can see it, keeping only the last few. */
function noteAlert(m) {
  const alerts = (window.__minimostAlerts ||= []);
  alerts.push(m.id);
  if (alerts.length > REMEMBERED) alerts.shift();
}

socket.on('message', (event) => {
  const m = event.message;
  if (!m || typeof m.channel !== 'string' || typeof m.id !== 'string') return;
  if (m.deleted || m.system || m.sender === state.myName() || alerted.has(m.id)) return;
  alerted.add(m.id);
  if (alerted.size > REMEMBERED) alerted.delete(alerted.values().next().value);
  if (!deservesAlert(m)) return;
  const sound = soundOn();
  const notification = notificationsOn();
  if (!sound && !notification) return;
  noteAlert(m);
  if (sound && Date.now() - lastSoundAt > SOUND_GAP_MS) {
    lastSoundAt = Date.now();
    playSound();
  }
  if (notification) showNotification(m);
});

// The service worker relays clicks on the notifications it showed.
navigator.serviceWorker?.addEventListener('message', (event) => {
  const data = event.data;
  if (data && data.type === 'open-message' && typeof data.channel === 'string') openMessage(data.channel, data.id);
});
navigator.serviceWorker?.startMessages();

for (const type of ['pointerdown', 'keydown']) {
  window.addEventListener(type, () => {
    if (soundOn()) unlockAudio();
  }, { capture: true, passive: true });
}
