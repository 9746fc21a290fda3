// Owns the Settings dialog (opened from the profile menu): the profile — picture (cropped
// to a centred square and resized to 128×128 in a canvas before upload), name colour, bio —;
// the theme (kept by theme.js); changing the password; the notification and sound toggles
// (kept by notify.js); and the Danger Zone, where the account is deleted, keeping or removing
// its messages.

import { request, sendBytes, describeError, NetworkError } from './api.js';
import * as state from './state.js';
import * as users from './users.js';
import * as socket from './socket.js';
import * as notify from './notify.js';
import { openDialog, confirmAction } from './dialogs.js';
import { watchPasswordRules } from './password-rules.js';
import { themeChoice, setThemeChoice } from './theme.js';

const AVATAR_SIZE = 128;
const BIO_MAX = 160;
const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
// Name colours readable on the dark theme (the light theme darkens them: base.css), with names
// for screen readers.
export const NAME_COLORS = [
  ['#6ea8ff', 'Blue'], ['#90caf9', 'Sky'], ['#4dd0e1', 'Cyan'], ['#4db6ac', 'Teal'],
  ['#5fd38d', 'Green'], ['#c5e478', 'Lime'], ['#f2c94c', 'Yellow'], ['#ffab70', 'Orange'],
  ['#ff8a80', 'Coral'], ['#f48fb1', 'Pink'], ['#c792ea', 'Purple'], ['#b0bec5', 'Silver'],
];

const dialog = document.getElementById('settings-dialog');
const tabs = [...dialog.querySelectorAll('[role="tab"]')];

const avatarPreview = document.getElementById('avatar-preview');
const avatarInput = document.getElementById('avatar-input');
const avatarChoose = document.getElementById('avatar-choose');
const avatarRemove = document.getElementById('avatar-remove');
const palette = document.getElementById('color-palette');
const colorPreview = document.getElementById('color-preview');
const bioForm = document.getElementById('bio-form');
const bioInput = document.getElementById('bio-input');
const bioCount = document.getElementById('bio-count');
const profileError = document.getElementById('profile-error');
const profileStatus = document.getElementById('profile-status');

const passwordForm = document.getElementById('password-form');
const currentPassword = document.getElementById('current-password');
const newPassword = document.getElementById('new-password');
const confirmPassword = document.getElementById('confirm-new-password');
const passwordError = document.getElementById('password-error');
const passwordStatus = document.getElementById('password-status');

const themeChoices = document.getElementById('theme-choices');
const themeStatus = document.getElementById('theme-status');

const notifyToggle = document.getElementById('notify-toggle');
const notifyNote = document.getElementById('notify-note');
const soundToggle = document.getElementById('sound-toggle');
const soundTest = document.getElementById('sound-test');

const deleteForm = document.getElementById('delete-form');
const deletePassword = document.getElementById('delete-password');
const deleteError = document.getElementById('delete-error');

export function openSettings(tab = 'profile') {
  for (const line of [profileError, profileStatus, themeStatus, passwordError, passwordStatus, deleteError]) {
    line.textContent = '';
  }
  renderProfile({ palette: true });
  bioInput.value = myUser()?.bio || state.myProfile()?.bio || '';
  countBio();
  renderNotifications();
  renderTheme();
  document.getElementById('password-username').value = state.myName();
  selectTab(tab, { focus: false });
  openDialog(dialog, dialog.querySelector(`[role="tab"][aria-selected="true"]`));
}

function myUser() {
  return users.getUser(state.myName());
}

function myColor() {
  const color = myUser() ? myUser().name_color : state.myProfile()?.name_color;
  return typeof color === 'string' ? color.toLowerCase() : null;
}

// Tabs

function selectTab(name, { focus = true } = {}) {
  for (const tab of tabs) {
    const selected = tab.dataset.tab === name;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute('aria-controls')).hidden = !selected;
    if (selected && focus) tab.focus();
  }
}

for (const tab of tabs) tab.addEventListener('click', () => selectTab(tab.dataset.tab));
dialog.querySelector('[role="tablist"]').addEventListener('keydown', (event) => {
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 1, ArrowUp: -1 };
  const index = tabs.indexOf(document.activeElement);
  if (index < 0) return;
  let next = null;
  if (event.key in moves) next = (index + moves[event.key] + tabs.length) % tabs.length;
  else if (event.key === 'Home') next = 0;
  else if (event.key === 'End') next = tabs.length - 1;
  if (next === null) return;
  event.preventDefault();
  selectTab(tabs[next].dataset.tab);
});

// Profile: picture, colour, bio

/** Shows the picture and the name preview; `palette` also marks the saved colour. */
function renderProfile({ palette: syncPalette = false } = {}) {
  const me = state.myName();
  if (!me) return;
  avatarPreview.replaceChildren(users.avatar(me, { size: 'large' }));
  avatarRemove.hidden = !myUser()?.avatar_url;
  colorPreview.textContent = me;
  if (!syncPalette) return;
  const color = myColor();
  for (const radio of palette.querySelectorAll('input')) radio.checked = (radio.value || null) === color;
  colorPreview.style.setProperty('--name-color', color || users.defaultColor(me));
}

function buildPalette() {
  const swatch = (value, label) => {
    const wrap = document.createElement('label');
    wrap.className = `swatch${value ? '' : ' swatch-default'}`;
    wrap.title = label;
    const radio = document.createElement('input');
    radio.type = 'radio';
    radio.name = 'name-color';
    radio.value = value;
    radio.className = 'swatch-input';
    const chip = document.createElement('span');
    chip.className = 'swatch-chip';
    chip.setAttribute('aria-hidden', 'true');
    if (value) chip.style.setProperty('--swatch', value);
    else chip.textContent = '⊘';
    const name = document.createElement('span');
    name.className = 'visually-hidden';
    name.textContent = label;
    wrap.append(radio, chip, name);
    return wrap;
  };
  palette.replaceChildren(
    ...NAME_COLORS.map(([value, label]) => swatch(value, label)),
    swatch('', 'Default colour'),
  );
}

async function saveProfile(changes, done) {
  profileError.textContent = '';
  profileStatus.textContent = '';
  try {
    const result = await request('PATCH', '/api/me', changes);
    if (!result.ok) {
      profileError.textContent = describeError(result);
      renderProfile({ palette: true });
      return;
    }
    state.setProfile({ ...state.myProfile(), ...result.data });
    profileStatus.textContent = done;
  } catch (err) {
    profileError.textContent = err.message;
    renderProfile({ palette: true });
  }
}

palette.addEventListener('change', (event) => {
  const value = event.target.value || null;
  // The default colour is the one derived from the name (users.js), once no colour is saved.
  colorPreview.style.setProperty('--name-color', value || users.defaultColor(state.myName()));
  saveProfile({ name_color: value }, value ? 'Name colour saved.' : 'Name colour reset to the default.');
});

function countBio() {
  const n = [...bioInput.value].length;
  bioCount.textContent = `${n} / ${BIO_MAX}`;
  bioCount.classList.toggle('over', n > BIO_MAX);
}

bioInput.addEventListener('input', countBio);
bioForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const bio = bioInput.value.trim();
  if ([...bio].length > BIO_MAX) {
    profileError.textContent = `A bio can be at most ${BIO_MAX} characters.`;
    return;
  }
  saveProfile({ bio: bio || null }, bio ? 'Bio saved.' : 'Bio removed.');
});

/** Crops `file` to its centred square and scales it to 128×128; resolves to a PNG or JPEG Blob. */
async function squareAvatar(file, maxBytes) {
  const bitmap = await createImageBitmap(file);
  const side = Math.min(bitmap.width, bitmap.height);
  const canvas = document.createElement('canvas');
  canvas.width = AVATAR_SIZE;
  canvas.height = AVATAR_SIZE;
  const context = canvas.getContext('2d');
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, AVATAR_SIZE, AVATAR_SIZE);
  bitmap.close();
  const encode = (type, quality) => new Promise((resolve) => canvas.toBlob(resolve, type, quality));
  const png = await encode('image/png');
  if (png && png.size <= maxBytes) return png;
  // A photo compresses far better as JPEG.
  return encode('image/jpeg', 0.88);
}

avatarChoose.addEventListener('click', () => avatarInput.click());
avatarInput.addEventListener('change', async () => {
  const file = avatarInput.files[0];
  avatarInput.value = '';
  if (!file) return;
  profileError.textContent = '';
  profileStatus.textContent = '';
  if (!AVATAR_TYPES.includes(file.type)) {
    profileError.textContent = 'Choose a PNG, JPEG, GIF or WebP image.';
    return;
  }
  const maxMb = Number(state.myProfile()?.max_avatar_mb) || 1;
  let blob;
  try {
    blob = await squareAvatar(file, maxMb * 1024 * 1024);
  } catch {
    profileError.textContent = 'That image could not be read. Try another one.';
    return;
  }
  if (!blob || blob.size > maxMb * 1024 * 1024) {
    profileError.textContent = `The picture is still larger than the ${maxMb} MB limit after resizing.`;
    return;
  }
  avatarChoose.disabled = true;
  profileStatus.textContent = 'Uploading your picture…';
  try {
    const result = await sendBytes('PUT', '/api/me/avatar', blob, { headers: { 'Content-Type': blob.type } }).done;
    if (result.ok) profileStatus.textContent = 'Picture saved.';
    else {
      profileStatus.textContent = '';
      profileError.textContent = describeError(result);
    }
  } catch (err) {
    profileStatus.textContent = '';
    profileError.textContent = err.message;
  }
  avatarChoose.disabled = false;
});

avatarRemove.addEventListener('click', async () => {
  profileError.textContent = '';
  try {
    const result = await request('DELETE', '/api/me/avatar');
    if (result.ok) profileStatus.textContent = 'Picture removed.';
    else profileError.textContent = describeError(result);
  } catch (err) {
    profileError.textContent = err.message;
  }
});

// Password

const checkRules = watchPasswordRules(
  newPassword,
  confirmPassword,
  document.getElementById('settings-rules'),
  document.getElementById('settings-match-rule'),
);
passwordForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  passwordError.textContent = '';
  passwordStatus.textContent = '';
  if (!currentPassword.value) {
    passwordError.textContent = 'Enter your current password.';
    currentPassword.focus();
    return;
  }
  const submit = passwordForm.querySelector('[type="submit"]');
  submit.disabled = true;
  try {
    const result = await request('POST', '/api/account/password', {
      current_password: currentPassword.value,
      new_password: newPassword.value,
      confirm_password: confirmPassword.value,
    });
    if (result.ok) {
      passwordForm.reset();
      checkRules();
      passwordStatus.textContent = 'Password changed. You were logged out everywhere else.';
    } else {
      passwordError.textContent = result.status === 403
        ? 'Your current password is not right.'
        : describeError(result);
    }
  } catch (err) {
    passwordError.textContent = err instanceof NetworkError ? err.message : 'Could not change the password.';
  }
  submit.disabled = false;
});

// Appearance

function renderTheme() {
  const choice = themeChoice();
  for (const radio of themeChoices.querySelectorAll('input')) radio.checked = radio.value === choice;
}

themeChoices.addEventListener('change', (event) => {
  const kept = setThemeChoice(event.target.value);
  themeStatus.textContent = kept ? '' : 'This browser does not let MiniMost remember the theme.';
  renderTheme();
});

// Notifications

function renderNotifications() {
  notifyToggle.checked = notify.notificationsOn();
  soundToggle.checked = notify.soundOn();
  const permission = notify.permission();
  notifyToggle.disabled = permission === 'unsupported';
  notifyNote.textContent = {
    unsupported: 'This browser cannot show desktop notifications.',
    denied: 'Notifications are blocked for this site. Allow them in the browser’s site settings, then turn this on.',
  }[permission] || '';
}

notifyToggle.addEventListener('change', async () => {
  await notify.setNotifications(notifyToggle.checked);
  renderNotifications();
});
soundToggle.addEventListener('change', () => {
  notify.setSound(soundToggle.checked);
});
soundTest.addEventListener('click', () => {
  notify.setSound(true);
  soundToggle.checked = true;
  notify.playSound();
});

// Danger Zone

deleteForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  deleteError.textContent = '';
  const mode = deleteForm.elements['delete-mode'].value;
  if (!deletePassword.value) {
    deleteError.textContent = 'Enter your password to delete your account.';
    deletePassword.focus();
    return;
  }
  const confirmed = await confirmAction({
    title: mode === 'hard' ? 'Delete your account and every message?' : 'Delete your account?',
    text: mode === 'hard'
      ? 'Every message you ever sent disappears for everyone, and your account is gone. This cannot be undone.'
      : 'Your account is gone; your messages stay, shown as sent by “Deleted User”. This cannot be undone.',
    confirmLabel: 'Delete my account',
  });
  if (!confirmed) return;
  try {
    const result = await request('POST', '/api/account/delete', { mode, password: deletePassword.value });
    if (result.ok) {
      socket.disconnect();
      location.replace('/login');
      return;
    }
    deleteError.textContent = result.status === 403 ? 'That password is not right.' : describeError(result);
  } catch (err) {
    deleteError.textContent = err.message;
  }
});

buildPalette();
users.onChange(() => {
  if (dialog.open) renderProfile();
});
dialog.addEventListener('close', () => {
  currentPassword.value = '';
  newPassword.value = '';
  confirmPassword.value = '';
  deletePassword.value = '';
  checkRules();
});
