// Owns talking to the MiniMost HTTP API: one fetch wrapper (same-origin cookies, JSON in and
// out), URLs of channel resources, the wording of errors shown to the user, and an estimate of
// the server's clock (from each response's Date header). It never touches the DOM.

// Server clock minus ours, in seconds; learned from the Date header of every response.
let clockOffset = null;

/** Thrown when the server could not be reached at all (offline, server down, TLS failure). */
export class NetworkError extends Error {
  constructor() {
    super("Can't reach the MiniMost server. Check your connection and try again.");
    this.name = 'NetworkError';
  }
}

/**
 * Sends one request and resolves to `{ok, status, data, headers}`, where `data` is the parsed
 * JSON body or null. HTTP error statuses resolve normally; only network failure rejects.
 */
export async function request(method, url, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  let text;
  try {
    response = await fetch(url, init);
    text = await response.text();
  } catch {
    throw new NetworkError();
  }
  noteServerDate(response.headers.get('Date'));
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      // A proxy's HTML error page, for example: fall back to the status-based message.
    }
  }
  return { ok: response.ok, status: response.status, data, headers: response.headers };
}

/**
 * Sends raw bytes (a file or a Blob) with XMLHttpRequest, which, unlike fetch, reports upload
 * progress: `onProgress(fraction)` is called as the body goes out. Returns `{done, abort}`,
 * where `done` resolves like `request` (`{ok, status, data}`; `status` 0 when aborted) and
 * rejects with NetworkError when the server cannot be reached.
 */
export function sendBytes(method, url, body, { headers = {}, onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  let aborted = false;
  const done = new Promise((resolve, reject) => {
    xhr.open(method, url);
    xhr.setRequestHeader('Accept', 'application/json');
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) {
      xhr.upload.addEventListener('progress', (event) => {
        if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
      });
    }
    xhr.addEventListener('load', () => {
      noteServerDate(xhr.getResponseHeader('Date'));
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        // Not JSON: describeError falls back to the status.
      }
      const responseHeaders = { get: (name) => xhr.getResponseHeader(name) };
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status, data, headers: responseHeaders });
    });
    xhr.addEventListener('abort', () => resolve({ ok: false, status: 0, data: null, aborted: true, headers: { get: () => null } }));
    xhr.addEventListener('error', () => (aborted ? null : reject(new NetworkError())));
    xhr.send(body);
  });
  return {
    done,
    abort() {
      aborted = true;
      xhr.abort();
    },
  };
}

/** `/api/channels/<ch>` with the channel id percent-encoded, plus `rest` (e.g. '/messages'). */
export function channelUrl(channelId, rest = '') {
  return `/api/channels/${encodeURIComponent(channelId)}${rest}`;
}

/**
 * The server's current time in Unix seconds, as well as we know it. A Date header has whole
 * seconds, so this may run up to a second (plus the network delay) behind the server.
 */
export function serverNow() {
  return Date.now() / 1000 + (clockOffset ?? 0);
}

function noteServerDate(header) {
  const serverMs = header ? Date.parse(header) : NaN;
  if (Number.isFinite(serverMs)) clockOffset = (serverMs - Date.now()) / 1000;
}

/** The message to show for a failed response: the server's own words when it sent any. */
export function describeError(result) {
  const message = result.data && typeof result.data.error === 'string' ? result.data.error.trim() : '';
  if (message) return message;
  if (result.status === 429) {
    const wait = waitText(result.headers.get('Retry-After'));
    return wait ? `Too many attempts. Try again in ${wait}.` : 'Too many attempts. Try again later.';
  }
  if (result.status >= 500) {
    return `The server ran into a problem (HTTP ${result.status}). Please try again.`;
  }
  return `The request failed (HTTP ${result.status}).`;
}

function waitText(retryAfter) {
  const seconds = Number.parseInt(retryAfter || '', 10);
  if (!Number.isFinite(seconds) || seconds <= 0) return '';
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
