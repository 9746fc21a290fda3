// Owns the small monochrome icons (www/icons/*.svg, drawn in the current text colour through a
// CSS mask, so they follow the theme). Emoji would depend on the fonts of each device.

/** A decorative icon element; give the control around it an accessible name. */
export function icon(name) {
  const span = document.createElement('span');
  span.className = `icon icon-${name}`;
  span.setAttribute('aria-hidden', 'true');
  return span;
}
