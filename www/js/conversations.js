// Owns the open conversation's header (name, members, actions) and managing conversations:
// the new DM / group DM dialog, creating a private channel, its details dialog (rename,
// add and remove members, leave), and hiding a DM.

import { request, describeError } from './api.js';
import * as state from './state.js';
import * as users from './users.js';
import { openDialog, confirmAction, showError, userPicker } from './dialogs.js';
import { icon } from './icons.js';

const title = document.getElementById('channel-title');
const sigil = document.getElementById('channel-sigil');
const membersLine = document.getElementById('channel-members');
const detailsButton = document.getElementById('channel-details');
const hideButton = document.getElementById('hide-dm');

// The header

function renderHeader() {
  const id = state.currentChannel();
  if (!id) return;
  const kind = state.kindOf(id);
  const found = state.findConversation(id);
  title.textContent = state.conversationName(id);
  sigil.replaceChildren(kind === 'private' ? icon('lock') : kind === 'public' ? '#' : '');
  detailsButton.hidden = !(kind === 'private' && found);
  hideButton.hidden = !(kind === 'dm' && found);
  membersLine.replaceChildren();
  if (kind === 'private' && found) {
    const members = found.entry.members || [];
    detailsButton.textContent = `Members (${members.length})`;
    membersLine.textContent = members.join(', ');
  } else if (kind === 'dm') {
    const others = state.dmUsers(id).filter((u) => u !== state.myName() && u !== 'system');
    if (others.length === 1) {
      const [other] = others;
      membersLine.append(users.presenceDot(other), ` ${users.PRESENCE_LABELS[users.presenceOf(other)]}`);
      const bio = users.getUser(other)?.bio;
      if (bio) membersLine.append(` · ${bio}`);
    } else if (others.length > 1) {
      membersLine.textContent = `You, ${others.join(', ')}`;
    }
  }
  renderDetails();
}

state.subscribe('open', renderHeader);
state.subscribe('channels', () => {
  // Removed from the private channel we are looking at (or it went away): go somewhere we can be.
  const id = state.currentChannel();
  if (id && state.kindOf(id) === 'private' && !state.findConversation(id)) {
    if (id !== leaving) showError('You are no longer a member of that private channel.');
    state.openConversation(firstPublicChannel());
    return;
  }
  renderHeader();
});
state.subscribe('me', renderHeader);
users.onChange(renderHeader);

function firstPublicChannel() {
  return state.channelLists().public[0]?.id || 'general';
}

// Hiding a DM

async function hideDm(id) {
  try {
    const result = await request('POST', `/api/dms/${encodeURIComponent(id)}/hide`);
    if (!result.ok) {
      showError(`Could not hide the conversation: ${describeError(result)}`);
      return;
    }
  } catch (err) {
    showError(`Could not hide the conversation: ${err.message}`);
    return;
  }
  if (state.currentChannel() === id) state.openConversation(firstPublicChannel());
  await state.refreshChannels();
}

hideButton.addEventListener('click', () => hideDm(state.currentChannel()));
document.getElementById('sidebar').addEventListener('click', (event) => {
  const button = event.target.closest('[data-hide]');
  if (button) hideDm(button.dataset.hide);
});

// New DM

const dmDialog = document.getElementById('dm-dialog');
const dmForm = document.getElementById('dm-form');
const dmError = document.getElementById('dm-error');
const dmPicker = userPicker(document.getElementById('dm-picker'), { inputId: 'dm-users' });

/** Opens the new-DM dialog (optionally with people already chosen). */
export function openNewDm() {
  dmPicker.reset();
  dmError.textContent = '';
  openDialog(dmDialog, dmPicker.input);
}

document.getElementById('new-dm').addEventListener('click', openNewDm);
dmForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const { names, unknown } = dmPicker.take();
  if (unknown.length) {
    dmError.textContent = `Nobody is called ${unknown.join(', ')}.`;
    return;
  }
  if (!names.length) {
    dmError.textContent = 'Choose at least one person.';
    return;
  }
  dmDialog.close();
  state.openConversation(state.dmIdFor(names));
  state.publish('focus-composer');
});

// New private channel

const privateDialog = document.getElementById('private-dialog');
const privateForm = document.getElementById('private-form');
const privateError = document.getElementById('private-error');
const privateName = document.getElementById('private-name');
const privateCreate = document.getElementById('private-create');
const privatePicker = userPicker(document.getElementById('private-picker'), { inputId: 'private-users' });

document.getElementById('new-private-channel').addEventListener('click', () => {
  privateForm.reset();
  privatePicker.reset();
  privateError.textContent = '';
  openDialog(privateDialog, privateName);
});

privateForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = privateName.value.trim();
  const { names, unknown } = privatePicker.take();
  if (!name) {
    privateError.textContent = 'Give the channel a name.';
    privateName.focus();
    return;
  }
  if (unknown.length) {
    privateError.textContent = `Nobody is called ${unknown.join(', ')}.`;
    return;
  }
  privateCreate.disabled = true;
  try {
    const result = await request('POST', '/api/private-channels', { name, members: names });
    if (!result.ok || !result.data || typeof result.data.id !== 'string') {
      privateError.textContent = describeError(result);
      return;
    }
    privateDialog.close();
    await state.refreshChannels();
    state.openConversation(result.data.id);
    state.publish('focus-composer');
  } catch (err) {
    privateError.textContent = err.message;
  } finally {
    privateCreate.disabled = false;
  }
});

// Private channel details: rename, members, leave

const membersDialog = document.getElementById('members-dialog');
const membersTitle = document.getElementById('members-dialog-title');
const membersError = document.getElementById('members-error');
const membersList = document.getElementById('members-list');
const renameForm = document.getElementById('rename-form');
const renameInput = document.getElementById('rename-input');
const addForm = document.getElementById('add-member-form');
const leaveButton = document.getElementById('leave-channel');
let detailsChannel = null;
let leaving = null; // the channel we are leaving on purpose
const addPicker = userPicker(document.getElementById('add-member-picker'), {
  inputId: 'add-member-users',
  excluded: () => state.findConversation(detailsChannel)?.entry.members || [],
});

/** The number in `private:<n>`, used by the private-channel API. */
function channelNumber(id) {
  return encodeURIComponent(id.slice('private:'.length));
}

function renderDetails() {
  if (!membersDialog.open || !detailsChannel) return;
  const found = state.findConversation(detailsChannel);
  if (!found) {
    membersDialog.close();
    return;
  }
  const channel = found.entry;
  membersTitle.replaceChildren(icon('lock'), ` ${channel.name}`);
  const me = state.myName();
  const iCreated = channel.created_by === me;
  membersList.replaceChildren(...(channel.members || []).map((member) => {
    const li = document.createElement('li');
    li.className = 'member';
    li.dataset.user = member;
    const name = document.createElement('span');
    name.className = 'member-name';
    name.textContent = member === me ? `${member} (you)` : member;
    li.append(users.avatar(member, { size: 'small', withPresence: true }), name);
    if (member === channel.created_by) {
      const note = document.createElement('span');
      note.className = 'muted member-note';
      note.textContent = 'created the channel';
      li.append(note);
    }
    if (iCreated && member !== me) {
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'button button-secondary button-small member-remove';
      remove.dataset.remove = member;
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', `Remove ${member} from the channel`);
      li.append(remove);
    }
    return li;
  }));
}

function openDetails() {
  const id = state.currentChannel();
  const found = state.findConversation(id);
  if (!found || found.kind !== 'private') return;
  detailsChannel = id;
  membersError.textContent = '';
  renameInput.value = found.entry.name;
  addPicker.reset();
  openDialog(membersDialog, renameInput);
  renderDetails();
}

detailsButton.addEventListener('click', openDetails);

async function privateAction(method, path, body, failure) {
  membersError.textContent = '';
  try {
    const result = await request(method, path, body);
    if (result.ok) return true;
    membersError.textContent = `${failure}: ${describeError(result)}`;
  } catch (err) {
    membersError.textContent = `${failure}: ${err.message}`;
  }
  return false;
}

renameForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = renameInput.value.trim();
  const found = state.findConversation(detailsChannel);
  if (!name) {
    membersError.textContent = 'A channel needs a name.';
    return;
  }
  if (!found || name === found.entry.name) return;
  if (await privateAction('PATCH', `/api/private-channels/${channelNumber(detailsChannel)}`, { name }, 'Could not rename')) {
    await state.refreshChannels();
  }
});

addForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const { names, unknown } = addPicker.take();
  if (unknown.length) {
    membersError.textContent = `Nobody is called ${unknown.join(', ')}.`;
    return;
  }
  for (const username of names) {
    const path = `/api/private-channels/${channelNumber(detailsChannel)}/members`;
    if (!(await privateAction('POST', path, { username }, `Could not add ${username}`))) break;
  }
  addPicker.reset();
  await state.refreshChannels();
});

membersList.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-remove]');
  if (!button) return;
  const member = button.dataset.remove;
  const path = `/api/private-channels/${channelNumber(detailsChannel)}/members/${encodeURIComponent(member)}`;
  if (await privateAction('DELETE', path, undefined, `Could not remove ${member}`)) await state.refreshChannels();
});

leaveButton.addEventListener('click', async () => {
  const id = detailsChannel;
  const found = state.findConversation(id);
  if (!found) return;
  const confirmed = await confirmAction({
    title: `Leave ${found.entry.name}?`,
    text: 'You will no longer see this channel or its messages unless someone adds you again.',
    confirmLabel: 'Leave',
  });
  if (!confirmed) return;
  leaving = id;
  if (await privateAction('POST', `/api/private-channels/${channelNumber(id)}/leave`, undefined, 'Could not leave')) {
    membersDialog.close();
    if (state.currentChannel() === id) state.openConversation(firstPublicChannel());
    await state.refreshChannels();
  } else if (!membersDialog.open) {
    showError(membersError.textContent);
  }
});
