// Owns the page's one WebSocket to /api/ws: connecting, reconnecting with backoff, parsing
// frames, and handing each event to the subscribers of its `type`. No other module opens a
// socket or reads frames; they subscribe with `on(type, handler)` and `onState(handler)`.
//
// Connection states: 'idle' (not started), 'connecting' (first attempt), 'connected',
// 'reconnecting' (lost or never reached; retrying), 'closed' (stopped on purpose).

const BACKOFF_MS = [1000, 2000, 5000, 10000];
// Keeps the connection alive through proxies that drop idle sockets (nginx: 60 s by default).
const PING_INTERVAL_MS = 30000;

const handlers = new Map(); // event type -> Set of handlers
const stateHandlers = new Set();

let socket = null;
let state = 'idle';
let failedAttempts = 0;
let retryTimer = 0;
let pingTimer = 0;
let resumeOnShow = false;

/** Starts the connection (idempotent). */
export function connect() {
  if (socket || retryTimer) return;
  setState(state === 'idle' || state === 'closed' ? 'connecting' : state);
  open();
}

/** Closes the socket and stops reconnecting (e.g. when logging out). */
export function disconnect() {
  clearTimeout(retryTimer);
  retryTimer = 0;
  stopPing();
  if (socket) {
    const closing = socket;
    socket = null;
    closing.close(1000);
  }
  setState('closed');
}

/** The current connection state (see the top of this file). */
export function connectionState() {
  return state;
}

/** Sends one event object; returns false when not connected (nothing is queued). */
export function send(event) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(event));
  return true;
}

/**
 * Calls `handler(event)` for every server event of `type` ('*' hears every event, after the
 * handlers of its own type). Returns an unsubscribe function.
 */
export function on(type, handler) {
  if (!handlers.has(type)) handlers.set(type, new Set());
  handlers.get(type).add(handler);
  return () => handlers.get(type).delete(handler);
}

/**
 * Calls `handler(state)` now, on every state change, and after every failed reconnect attempt
 * (so a subscriber can check whether the session is still valid). Returns an unsubscribe function.
 */
export function onState(handler) {
  stateHandlers.add(handler);
  safely(handler, state);
  return () => stateHandlers.delete(handler);
}

function open() {
  retryTimer = 0;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  let ws;
  try {
    ws = new WebSocket(`${scheme}://${location.host}/api/ws`);
  } catch (err) {
    console.error('WebSocket could not be created', err);
    scheduleRetry();
    return;
  }
  socket = ws;

  ws.addEventListener('open', () => {
    if (socket !== ws) return;
    startPing();
    setState('connected');
  });

  ws.addEventListener('message', (message) => {
    if (socket !== ws) return;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      console.warn('Ignoring a WebSocket frame that is not JSON');
      return;
    }
    if (!event || typeof event.type !== 'string') return;
    // Only a server that greets us counts as up; a socket that opens and drops at once keeps
    // backing off instead of hammering the server every second.
    if (event.type === 'hello') failedAttempts = 0;
    dispatch(event);
  });

  // 'error' is always followed by 'close', so 'close' alone drives reconnection.
  ws.addEventListener('close', () => {
    if (socket !== ws) return;
    socket = null;
    stopPing();
    scheduleRetry();
  });
}

function scheduleRetry() {
  const delay = BACKOFF_MS[Math.min(failedAttempts, BACKOFF_MS.length - 1)];
  failedAttempts += 1;
  retryTimer = setTimeout(open, delay);
  setState('reconnecting', { notifyEvenIfSame: true });
}

/** Skips the rest of the wait, e.g. when the network comes back or the tab is shown again. */
function retryNow() {
  if (!retryTimer) return;
  clearTimeout(retryTimer);
  open();
}

function startPing() {
  stopPing();
  pingTimer = setInterval(() => send({ type: 'ping' }), PING_INTERVAL_MS);
}

function stopPing() {
  clearInterval(pingTimer);
  pingTimer = 0;
}

function dispatch(event) {
  const subscribers = [...(handlers.get(event.type) || []), ...(handlers.get('*') || [])];
  for (const handler of subscribers) safely(handler, event);
}

function setState(next, { notifyEvenIfSame = false } = {}) {
  if (next === state && !notifyEvenIfSame) return;
  state = next;
  for (const handler of [...stateHandlers]) safely(handler, state);
}

// One failing subscriber must not stop the others from hearing about an event.
function safely(handler, value) {
  try {
    handler(value);
  } catch (err) {
    console.error(err);
  }
}

window.addEventListener('online', retryNow);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') retryNow();
});

// Leaving the page closes the socket on purpose; coming back from the back/forward cache
// reopens it if it was in use.
window.addEventListener('pagehide', () => {
  resumeOnShow = state !== 'idle' && state !== 'closed';
  disconnect();
});
window.addEventListener('pageshow', (event) => {
  if (event.persisted && resumeOnShow) connect();
});
