// Owns the devices and sounds of calls: getting the microphone and camera (falling back to sound
// only when there is no camera), the screen (getDisplayMedia), why a device failed in words a
// person understands, audio level meters (AnalyserNode) for the speaking indicator, and the ring
// tone (Web Audio oscillators, no sound files). It never touches the DOM or the server.

// Modest by default: in a full mesh each person sends their picture to up to five others.
const CAMERA = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } };

let context = null;
let ring = null;

/** The page's AudioContext for calls (made on first use; browsers start it after a click). */
function audioContext() {
  if (!window.AudioContext) return null;
  try {
    context ||= new AudioContext();
    if (context.state === 'suspended') context.resume().catch(() => {});
  } catch {
    context = null;
  }
  return context;
}

/** Why `what` ('microphone', 'camera', 'screen') could not be used, for a person to read. */
export function describeDeviceError(err, what) {
  switch (err && err.name) {
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${what} was found. Plug one in or turn it on, then try again.`;
    case 'NotAllowedError':
    case 'SecurityError':
      return what === 'screen'
        ? 'Screen sharing was cancelled or is not allowed.'
        : `MiniMost is not allowed to use your ${what}. Allow it in the browser's site settings (next to the address), then try again.`;
    case 'NotReadableError':
    case 'AbortError':
      return `Your ${what} is busy: another application or tab may be using it. Close it and try again.`;
    default:
      return `Your ${what} could not be started${err && err.message ? ` (${err.message})` : ''}.`;
  }
}

async function attempt(constraints) {
  try {
    return { stream: await navigator.mediaDevices.getUserMedia(constraints) };
  } catch (error) {
    return { error };
  }
}

/**
 * The microphone and camera for a call: `{audio, camera, notice}` with a track or null each, and
 * a sentence explaining what is missing (empty when both work). Never rejects: a person without
 * devices still joins, to listen and watch.
 */
export async function getLocalMedia() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { audio: null, camera: null, notice: 'This browser cannot use a microphone or camera here (calls need HTTPS).' };
  }
  const both = await attempt({ audio: true, video: CAMERA });
  if (both.stream) {
    return { audio: both.stream.getAudioTracks()[0] || null, camera: both.stream.getVideoTracks()[0] || null, notice: '' };
  }
  // One of them failed (often: no camera). Try each alone to say which.
  const sound = await attempt({ audio: true });
  const picture = await attempt({ video: CAMERA });
  const audio = sound.stream ? sound.stream.getAudioTracks()[0] : null;
  const camera = picture.stream ? picture.stream.getVideoTracks()[0] : null;
  const notes = [];
  if (!audio) notes.push(`${describeDeviceError(sound.error || both.error, 'microphone')} Others will not hear you.`);
  if (!camera) {
    notes.push(describeDeviceError(picture.error || both.error, 'camera'));
    if (audio) notes.push('You are in the call with sound only.');
  }
  return { audio, camera, notice: notes.join(' ') };
}

/** A camera track on its own (turning the camera back on): `{track}` or `{error}`. */
export async function getCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return { error: 'This browser cannot use a camera here.' };
  const got = await attempt({ video: CAMERA });
  return got.stream ? { track: got.stream.getVideoTracks()[0] } : { error: describeDeviceError(got.error, 'camera') };
}

/** The screen, a window or a tab, as the person picks: `{track}` or `{error}`. */
export async function getScreen() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) return { error: 'This browser cannot share its screen.' };
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    if ('contentHint' in track) track.contentHint = 'detail';
    return { track };
  } catch (err) {
    return { error: describeDeviceError(err, 'screen') };
  }
}

/**
 * A level meter on the audio of `stream`: `level()` is the loudness right now (RMS, 0 to 1),
 * `stop()` disconnects it. A stream without audio reads 0.
 */
export function meter(stream) {
  const ctx = stream && stream.getAudioTracks().length ? audioContext() : null;
  if (!ctx) return { level: () => 0, stop() {} };
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  return {
    level() {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const v of samples) sum += v * v;
      return Math.sqrt(sum / samples.length);
    },
    stop() {
      source.disconnect();
      analyser.disconnect();
    },
  };
}

/** Starts the ring: two short double tones every three seconds, until `stopRing()`. */
export function startRing() {
  if (ring) return;
  const ctx = audioContext();
  if (!ctx) return;
  const out = ctx.createGain();
  out.connect(ctx.destination);
  const burst = () => {
    const start = ctx.currentTime + 0.02;
    for (const offset of [0, 0.5]) {
      const t = start + offset;
      const envelope = ctx.createGain();
      envelope.gain.setValueAtTime(0.0001, t);
      envelope.gain.exponentialRampToValueAtTime(0.12, t + 0.03);
      envelope.gain.setValueAtTime(0.12, t + 0.35);
      envelope.gain.exponentialRampToValueAtTime(0.0001, t + 0.4);
      envelope.connect(out);
      for (const frequency of [440, 480]) {
        const tone = ctx.createOscillator();
        tone.frequency.value = frequency;
        tone.connect(envelope);
        tone.start(t);
        tone.stop(t + 0.42);
      }
    }
  };
  burst();
  const timer = setInterval(burst, 3000);
  ring = {
    stop() {
      clearInterval(timer);
      out.disconnect(); // silences tones already scheduled
    },
  };
}

export function stopRing() {
  if (ring) ring.stop();
  ring = null;
}

/** Whether the ring is sounding (for the tests' debug hook). */
export function ringing() {
  return ring !== null;
}
