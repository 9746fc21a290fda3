// Owns the image viewer: a picture from a message shown at full size in a modal dialog over the
// app, with its name, a link to the original and a download; Esc, the × or a click beside the
// picture closes it and gives the focus back to what opened it.

import { openDialog } from './dialogs.js';

const dialog = document.getElementById('lightbox');
const image = document.getElementById('lightbox-image');
const name = document.getElementById('lightbox-name');
const openLink = document.getElementById('lightbox-open');
const download = document.getElementById('lightbox-download');
let returnFocus = null;

/** Shows the image at `url` (same-origin path), called `title`. */
export function showImage(url, title, opener) {
  returnFocus = opener || document.activeElement;
  image.src = url;
  image.alt = title;
  name.textContent = title;
  openLink.href = url;
  download.href = url;
  download.download = title;
  openDialog(dialog, dialog.querySelector('[data-close]'));
}

dialog.addEventListener('click', (event) => {
  // The picture and the bar keep the dialog open; the dark area around them closes it.
  if (event.target === dialog || event.target.classList.contains('lightbox-stage')) dialog.close();
});
dialog.addEventListener('close', () => {
  image.removeAttribute('src');
  if (returnFocus?.isConnected) returnFocus.focus({ preventScroll: true });
  returnFocus = null;
});
