// Owns the formatting shortcuts of the message box and the edit box: Ctrl+B wraps the selection
// in **bold**, Ctrl+I in _italic_, Ctrl+Shift+X in ~~strike-through~~ (Cmd on a Mac). With
// nothing selected the pair is inserted with the caret between; a selection already wrapped in
// the pair is unwrapped. Edits go through the browser's own editing, so Ctrl+Z undoes them and
// the box hears its usual `input` event (the @ autocomplete inserts names the same way).

const SHORTCUTS = [
  { key: 'b', shift: false, marker: '**' },
  { key: 'i', shift: false, marker: '_' },
  { key: 'x', shift: true, marker: '~~' },
];

/** The marker `event` asks for, or null when it is not a formatting shortcut. */
function markerFor(event) {
  const command = event.ctrlKey !== event.metaKey; // one of them, not both
  if (!command || event.altKey || event.isComposing) return null;
  const key = event.key.toLowerCase();
  const shortcut = SHORTCUTS.find((s) => s.key === key && s.shift === event.shiftKey);
  return shortcut ? shortcut.marker : null;
}

/**
 * Applies a formatting shortcut to `box` (a textarea) if `event` is one; true when it was, and
 * the key must then do nothing else.
 */
export function handleFormatKey(event, box) {
  const marker = markerFor(event);
  if (!marker || box.disabled || box.readOnly) return false;
  event.preventDefault();
  toggleMarker(box, marker);
  return true;
}

/** Wraps the selection of `box` in `marker`, or unwraps it when it is wrapped already. */
export function toggleMarker(box, marker) {
  const { selectionStart: start, selectionEnd: end, value } = box;
  const size = marker.length;
  const wrapped = start >= size && value.slice(start - size, start) === marker
    && value.slice(end, end + size) === marker;
  if (wrapped && start !== end) {
    replaceAsTyped(box, start - size, end + size, value.slice(start, end));
    box.setSelectionRange(start - size, end - size);
    return;
  }
  replaceAsTyped(box, start, end, `${marker}${value.slice(start, end)}${marker}`);
  // Keep the words selected (or the caret between an empty pair) so typing goes inside.
  box.setSelectionRange(start + size, end + size);
}

/** Replaces `box.value[from..to]` with `text` as if typed, so undo and `input` work. */
export function replaceAsTyped(box, from, to, text) {
  box.focus();
  box.setSelectionRange(from, to);
  // execCommand keeps the browser's undo history; where it is missing, edit the value directly.
  let done = false;
  try {
    done = document.execCommand('insertText', false, text);
  } catch {
    done = false;
  }
  if (!done) {
    box.setRangeText(text, from, to, 'end');
    box.dispatchEvent(new Event('input', { bubbles: true }));
  }
}
