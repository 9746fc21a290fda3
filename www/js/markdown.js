// Owns turning message text into DOM nodes: a small, safe Markdown subset — **bold**, *italic*
// and _italic_ (underscores only at word edges, so snake_case stays as it is), __underline__,
// ~~strike~~, `code`, fenced ``` code blocks (with a copy button and light syntax highlighting),
// lists (lines starting `- `, `* ` or `1. `), block quotes (lines starting `> `), auto-linked
// http(s) URLs opening in a new tab, and @mentions of known people. Nothing inside code is
// formatted. Text only ever becomes text nodes; the only attribute taken from the text is a
// link's href, and only after it parses as an http(s) URL. No HTML in the input is ever
// interpreted.

const MAX_DEPTH = 6; // nesting of emphasis; deeper markers stay literal text
const EMPHASIS = [
  { marker: '**', tag: 'strong' },
  { marker: '__', tag: 'u' },
  { marker: '~~', tag: 's' },
  { marker: '*', tag: 'em' },
  // Only at word edges: an underscore inside a word (snake_case, a_b_c) is a letter.
  { marker: '_', tag: 'em', wordEdges: true },
];
const BULLET_ITEM = /^ {0,3}[-*] +(.*)$/;
const NUMBERED_ITEM = /^ {0,3}(\d{1,9})\. +(.*)$/;
const QUOTE_LINE = /^ {0,3}>(?: (.*)|$)/;
const URL_START = /https?:\/\//iy;
const URL_BODY = /[^\s<>"`]+/y;
const MENTION = /@([A-Za-z0-9_-]{1,32})/y;
const BROAD_MENTIONS = new Set(['everyone', 'channel', 'here']);
const TRAILING_PUNCTUATION = '.,;:!?*~\'"';
const CLOSERS = { ')': '(', ']': '[', '}': '{' };

/**
 * Renders `text` into a DocumentFragment. `options.isUser(name)` says which @names are people
 * and `options.isMe(name)` which one is the reader, highlighted more strongly; `@everyone`,
 * `@channel` and `@here` are mentions too, as strong as the reader's own name when
 * `options.broadIsMe`.
 */
export function renderMarkdown(text, options = {}) {
  const fragment = document.createDocumentFragment();
  for (const block of splitBlocks(String(text ?? ''))) {
    if (block.code) fragment.append(codeBlock(block.text, block.lang));
    else if (block.text) renderProse(block.text, fragment, options);
  }
  return fragment;
}

/** The text as plain words, for previews (reply quotes, notifications): markers removed. */
export function plainText(text) {
  return String(text ?? '')
    .replace(/```[\w+#.-]*\n?/g, '')
    .replace(/^ {0,3}> ?/gm, '')
    .replace(/(\*\*|__|~~|`)/g, '')
    .replace(/\*(?=\S)([^*\n]*?\S)\*/g, '$1')
    .replace(/(^|[^\p{L}\p{N}_])_(?=\S)([^_\n]*?\S)_(?![\p{L}\p{N}_])/gu, '$1$2')
    .replace(/\s+/g, ' ')
    .trim();
}

/** A message as one line of plain text, for lists and notifications: its words, or else the
 * names of its files. Cut to `max` characters (with an ellipsis) when given. */
export function previewText(m, max = Infinity) {
  const text = plainText(m.text) || (m.files?.length ? `📎 ${m.files.map((f) => f.original).join(', ')}` : '');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

const whenFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A `<time>` element for a ts in seconds (date and time, as lists of messages show it). */
export function timeElement(ts, className) {
  const when = document.createElement('time');
  when.className = className;
  const date = new Date(ts * 1000);
  when.dateTime = date.toISOString();
  when.textContent = whenFormat.format(date);
  return when;
}

/** A ts in seconds as lists of messages show it (date and time). */
export function formatWhen(ts) {
  return whenFormat.format(new Date(ts * 1000));
}

/** Splits text into paragraphs and fenced code blocks ({code, lang, text}). */
function splitBlocks(text) {
  const blocks = [];
  const lines = text.split('\n');
  let prose = [];
  const flushProse = () => {
    if (prose.length) blocks.push({ code: false, text: prose.join('\n') });
    prose = [];
  };
  for (let i = 0; i < lines.length; i += 1) {
    const fence = /^\s*```(.*)$/.exec(lines[i]);
    if (!fence) {
      prose.push(lines[i]);
      continue;
    }
    const rest = fence[1];
    const closeOnSameLine = rest.indexOf('```');
    if (closeOnSameLine >= 0) {
      // ```code``` on one line.
      flushProse();
      blocks.push({ code: true, lang: '', text: rest.slice(0, closeOnSameLine) });
      const after = rest.slice(closeOnSameLine + 3).trim();
      if (after) prose.push(after);
      continue;
    }
    flushProse();
    const code = [];
    let lang = '';
    if (/^[\w+#.-]{0,20}$/.test(rest.trim())) lang = rest.trim();
    else code.push(rest);
    let closed = false;
    for (i += 1; i < lines.length; i += 1) {
      const line = lines[i];
      const end = line.trimEnd();
      if (end.endsWith('```')) {
        const before = end.slice(0, -3);
        if (before.trim()) code.push(before);
        closed = true;
        break;
      }
      code.push(line);
    }
    blocks.push({ code: true, lang, text: code.join('\n') });
    if (!closed) break;
  }
  flushProse();
  return blocks;
}

/**
 * Renders a run of prose lines: consecutive list items become one <ul> or <ol>, consecutive
 * quote lines one <blockquote>, and other lines stay text (the message keeps its line breaks).
 */
function renderProse(text, parent, options) {
  for (const group of groupLines(text.split('\n'))) {
    if (group.kind === 'text') {
      renderInline(group.lines.join('\n'), parent, options, 0);
    } else if (group.kind === 'quote') {
      const quote = document.createElement('blockquote');
      renderInline(group.lines.join('\n'), quote, options, 0);
      parent.append(quote);
    } else {
      const list = document.createElement(group.kind);
      if (group.kind === 'ol' && group.start !== 1) list.start = group.start;
      for (const line of group.lines) {
        const item = document.createElement('li');
        renderInline(line, item, options, 0);
        list.append(item);
      }
      parent.append(list);
    }
  }
}

/** Splits lines into groups of one kind: {kind: 'text'|'quote'|'ul'|'ol', lines, start}. */
function groupLines(lines) {
  const groups = [];
  for (const line of lines) {
    let kind = 'text';
    let content = line;
    let start = 1;
    let match;
    if ((match = BULLET_ITEM.exec(line))) {
      kind = 'ul';
      content = match[1];
    } else if ((match = NUMBERED_ITEM.exec(line))) {
      kind = 'ol';
      start = Number(match[1]);
      content = match[2];
    } else if ((match = QUOTE_LINE.exec(line))) {
      kind = 'quote';
      content = match[1] ?? '';
    }
    const last = groups[groups.length - 1];
    if (last && last.kind === kind) last.lines.push(content);
    else groups.push({ kind, lines: [content], start });
  }
  return groups;
}

function renderInline(text, parent, options, depth) {
  let plain = '';
  const flush = () => {
    if (plain) parent.append(plain); // append(string) makes a text node
    plain = '';
  };
  const noCloser = new Set(); // markers with no closer anywhere to the right
  let i = 0;
  while (i < text.length) {
    const ch = text[i];

    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i + 1) {
        flush();
        const code = document.createElement('code');
        code.textContent = text.slice(i + 1, end);
        parent.append(code);
        i = end + 1;
        continue;
      }
    }

    if ((ch === 'h' || ch === 'H') && !isWordChar(text[i - 1])) {
      const url = urlAt(text, i);
      if (url) {
        flush();
        parent.append(link(url));
        i += url.length;
        continue;
      }
    }

    if (ch === '@' && !isWordChar(text[i - 1]) && options.isUser) {
      MENTION.lastIndex = i;
      const match = MENTION.exec(text);
      const broad = match && BROAD_MENTIONS.has(match[1].toLowerCase());
      if (match && (broad || options.isUser(match[1]))) {
        flush();
        const mention = document.createElement('span');
        const mine = broad ? options.broadIsMe : options.isMe?.(match[1]);
        mention.className = mine ? 'mention mention-me' : 'mention';
        if (broad) mention.classList.add('mention-broad');
        mention.textContent = match[0];
        parent.append(mention);
        i += match[0].length;
        continue;
      }
    }

    if (depth < MAX_DEPTH && (ch === '*' || ch === '_' || ch === '~')) {
      const rule = EMPHASIS.find((r) => text.startsWith(r.marker, i));
      const opens = rule && !noCloser.has(rule.marker) && !(rule.wordEdges && isWordChar(text[i - 1]));
      if (opens) {
        const start = i + rule.marker.length;
        const end = closerOf(text, rule, start);
        if (end === -2) noCloser.add(rule.marker);
        if (end >= 0) {
          flush();
          const element = document.createElement(rule.tag);
          renderInline(text.slice(start, end), element, options, depth + 1);
          parent.append(element);
          i = end + rule.marker.length;
          continue;
        }
      }
    }

    plain += ch;
    i += 1;
  }
  flush();
}

/**
 * Where the emphasis opened at `start` closes: the index of the closing marker, -1 when this
 * opener does not count, -2 when no later opener of this marker can close either. Code spans
 * are skipped: a marker inside one never closes anything.
 */
function closerOf(text, rule, start) {
  const { marker } = rule;
  if (start >= text.length || /\s/.test(text[start])) return -1;
  for (let j = start + 1; j < text.length; j += 1) {
    if (text[j] === '`') {
      const end = text.indexOf('`', j + 1);
      if (end > j + 1) {
        j = end;
        continue;
      }
    }
    if (!text.startsWith(marker, j)) continue;
    const before = text[j - 1];
    const after = text[j + marker.length];
    // A single * or _ must not be half of a double one, and no marker closes right after a
    // space; an underscore closes only at the end of a word.
    const single = marker.length === 1;
    const partOfDouble = single && (after === marker || before === marker);
    const midWord = rule.wordEdges && isWordChar(after);
    if (!/\s/.test(before) && !partOfDouble && !midWord) return j;
  }
  // Whether a marker closes depends only on what surrounds it, so an opener further right
  // finds nothing either.
  return -2;
}

function isWordChar(ch) {
  return ch !== undefined && /[\p{L}\p{N}_]/u.test(ch);
}

/** The http(s) URL starting at `i`, without trailing punctuation, or ''. */
function urlAt(text, i) {
  URL_START.lastIndex = i;
  if (!URL_START.test(text)) return '';
  URL_BODY.lastIndex = URL_START.lastIndex;
  const body = URL_BODY.exec(text);
  if (!body) return '';
  let url = text.slice(i, URL_BODY.lastIndex);
  for (;;) {
    const last = url[url.length - 1];
    if (TRAILING_PUNCTUATION.includes(last)) {
      url = url.slice(0, -1);
    } else if (CLOSERS[last] && count(url, last) > count(url, CLOSERS[last])) {
      url = url.slice(0, -1);
    } else {
      break;
    }
  }
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return '';
    if (!parsed.hostname) return '';
  } catch {
    return '';
  }
  return url;
}

function count(text, ch) {
  return text.split(ch).length - 1;
}

function link(url) {
  const a = document.createElement('a');
  a.href = url;
  a.textContent = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

function codeBlock(text, lang) {
  const wrapper = document.createElement('div');
  wrapper.className = 'code-block';
  const head = document.createElement('div');
  head.className = 'code-head';
  const label = document.createElement('span');
  label.className = 'code-lang';
  label.textContent = lang || 'code';
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.className = 'copy-button';
  copy.textContent = 'Copy';
  copy.setAttribute('aria-label', 'Copy code');
  copy.addEventListener('click', () => copyText(text, copy));
  head.append(label, copy);

  const pre = document.createElement('pre');
  const code = document.createElement('code');
  highlight(text, lang, code);
  pre.append(code);
  wrapper.append(head, pre);
  return wrapper;
}

async function copyText(text, button) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    // Older browsers, or no permission: copy through a hidden selection instead.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'visually-hidden';
    document.body.append(area);
    area.select();
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
    area.remove();
  }
  button.textContent = copied ? 'Copied' : 'Copy failed';
  setTimeout(() => {
    button.textContent = 'Copy';
  }, 1500);
}

// Light highlighting: comments, strings, numbers and common keywords of many languages.
const KEYWORDS = new Set(('as async await break case catch class const continue def default del do elif else enum ' +
  'except export extends false finally fn for from func function go if impl import in interface let loop match ' +
  'mod module mut new nil none null package pass pub raise return self static struct super switch this throw ' +
  'trait true try type typeof use var void where while with yield True False None').split(' '));
const HASH_COMMENT_LANGS = new Set(['py', 'python', 'sh', 'bash', 'shell', 'zsh', 'rb', 'ruby', 'yaml', 'yml',
  'toml', 'ini', 'conf', 'perl', 'r', 'make', 'makefile', 'dockerfile', 'nix']);
const TOKENS = /(\/\/[^\n]*|\/\*[\s\S]*?\*\/)|(#[^\n]*)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(\b\d[\d_]*(?:\.\d+)?\b)|([A-Za-z_][\w]*)/g;

function highlight(text, lang, parent) {
  const hashComments = HASH_COMMENT_LANGS.has(lang.toLowerCase());
  const slashComments = !['py', 'python', 'sh', 'bash', 'shell', 'yaml', 'yml', 'toml', 'ini'].includes(lang.toLowerCase());
  let last = 0;
  const span = (className, value) => {
    const s = document.createElement('span');
    s.className = className;
    s.textContent = value;
    return s;
  };
  for (const match of text.matchAll(TOKENS)) {
    const [value, slash, hash, string, number, word] = match;
    let className = '';
    if (slash && slashComments) className = 'tok-comment';
    else if (hash && hashComments) className = 'tok-comment';
    else if (string) className = 'tok-string';
    else if (number) className = 'tok-number';
    else if (word && KEYWORDS.has(word)) className = 'tok-keyword';
    if (!className) continue;
    if (match.index > last) parent.append(text.slice(last, match.index));
    parent.append(span(className, value));
    last = match.index + value.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}
