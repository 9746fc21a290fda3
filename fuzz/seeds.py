#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into fuzz/corpus/<target>/.

Seeds are what real clients send: the web UI's requests and WebSocket frames, API bodies, the
first-boot settings.json, stored file names. Run it once before a first fuzzing run; the
fuzzer then grows the corpus, and `cargo fuzz cmin` shrinks it again (docs/fuzzing.md).
"""

import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
HEX = "0123456789abcdef0123456789abcdef"


def write(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(ROOT, target, "seed-" + name), "wb") as f:
        f.write(data)


def head(lines, body=b""):
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


BROWSER = [
    "Host: chat.example.lan:5000",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept: */*",
    "Accept-Language: en-GB,en;q=0.5",
    "Accept-Encoding: gzip, deflate, br",
    "Cookie: session=eyJ1c2VyIjoiYWxpY2UifQ.abcdef0123456789",
    "Sec-Fetch-Site: same-origin",
    "Connection: keep-alive",
]

login = b'{"username":"alice","password":"Secret123!"}'
HTTP = {
    "page": head(["GET / HTTP/1.1"] + BROWSER),
    "login": head(
        ["POST /api/login HTTP/1.1", "Host: 127.0.0.1:5000", "Origin: https://127.0.0.1:5000",
         "Content-Type: application/json", f"Content-Length: {len(login)}"],
        login,
    ),
    "messages-query": head(
        ["GET /api/channels/dm%3Aalice%3Abob/messages?before=1716000000.123456&limit=50 HTTP/1.1"]
        + BROWSER
    ),
    "search-plus": head(["GET /api/search?q=hello+world%21&channel=general HTTP/1.1"] + BROWSER),
    "ws-upgrade": head(
        ["GET /api/ws HTTP/1.1", "Host: 127.0.0.1:5000", "Upgrade: websocket",
         "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
         "Sec-WebSocket-Version: 13", "Origin: https://127.0.0.1:5000"]
    ),
    "file-range": head(
        [f"GET /files/{HEX}_talk.mp3 HTTP/1.1", "Host: x", "Range: bytes=0-1023"]
    ),
    "upload-expect": head(
        ["POST /api/upload HTTP/1.1", "Host: x", "X-Filename: Quarterly%20Report.pdf",
         "Content-Length: 5", "Expect: 100-continue"],
        b"%PDF-",
    ),
    "http10-no-host": head(["GET /healthz HTTP/1.0"]),
    "leading-blank-lines": b"\r\n\r\n" + head(["HEAD /ca.pem HTTP/1.1", "Host: x"]),
    "chunked": head(["POST /api/messages HTTP/1.1", "Host: x", "Transfer-Encoding: chunked"],
                    b"5\r\nhello\r\n0\r\n\r\n"),
    "two-lengths": head(["POST /x HTTP/1.1", "Host: x", "Content-Length: 1",
                         "Content-Length: 2"], b"ab"),
    "two-hosts": head(["GET / HTTP/1.1", "Host: a", "Host: b"]),
    "bad-escape": head(["GET /x?a=%zz HTTP/1.1", "Host: x"]),
    "bare-lf": b"GET / HTTP/1.1\nHost: x\n\n",
    "pipelined": head(["GET /a HTTP/1.1", "Host: x"]) + head(["GET /b HTTP/1.1", "Host: x"]),
    "incomplete": b"GET / HTTP/1.1\r\nHost: x\r\n",
    "absolute-target": head(["GET http://x/ HTTP/1.1", "Host: x"]),
}


def frame(opcode, payload, fin=True, mask=b"\x37\xfa\x21\x3d"):
    if isinstance(payload, str):
        payload = payload.encode()
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        length = bytes([0x80 | n])
    elif n < 65536:
        length = bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        length = bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([first]) + length + mask + masked


def text(payload, **kw):
    return frame(0x1, payload, **kw)


WS = {
    "ping-message": b"\x00" + text('{"type":"ping"}'),
    "presence": b"\x00" + text('{"type":"presence","state":"idle"}'),
    "typing-general": b"\x00" + text('{"type":"typing","channel":"general"}'),
    "typing-dm-early": b"\x10" + text('{"type":"typing","channel":"dm:bob:alice"}'),
    "typing-private": b"\x00" + text('{"type":"typing","channel":"private:3"}'),
    "session": b"\x00"
    + text('{"type":"presence","state":"active"}')
    + frame(0x9, b"hi")
    + text('{"type":"ping"}')
    + frame(0xA, b"")
    + frame(0x8, struct.pack(">H", 1000) + b"bye"),
    "fragmented": b"\x00"
    + text('{"type":"pres', fin=False)
    + frame(0x9, b"")
    + frame(0x0, 'ence","state":"hidden"}'),
    "binary": b"\x00" + frame(0x2, bytes(range(32))),
    "long-text": b"\x00" + text('{"type":"typing","channel":"' + "x" * 300 + '"}'),
    "unmasked": b"\x00\x81\x0f" + b'{"type":"ping"}',
    "close-no-code": b"\x00" + frame(0x8, b""),
}

JSON = {
    "login": login,
    "message": '{"text":"hi @bob, see `code` \\u00e9\\n","reply_to":"1716000000.123456",'
    f'"files":["{HEX}.png"]}}',
    "reaction": '{"emoji":"thumbsup"}',
    "numbers": "[0, -1, 1.5, 1e3, -2.5E-3, 1716000000.123456, 9007199254740993]",
    "nested": '{"a":[{"b":[[],{}]},null,true,false],"c":{"d":{"e":"f"}}}',
    "escapes": '"\\"\\\\\\/\\b\\f\\n\\r\\t\\u0001\\ud83d\\ude00"',
    "profile": '{"display_name":"Alice Liddell","status":"\u2615 away"}',
    "members": '{"name":"ops","members":["alice","bob","carol"]}',
    "comment": "// note\n{\"a\": /* x */ 1}",
    "duplicate-keys": '{"a":1,"a":2}',
    "whitespace": " \t\r\n[ 1 ,\n 2 ]\n",
}

FIRST_BOOT = """{
  "channels": ["general", "random"],
  "image_retention_days": 30,
  "file_retention_days": 30,
  "message_retention_days": 770,
  "max_upload_size_mb": 25,
  "max_avatar_size_mb": 5,
  "stun_port": 3478,
  "max_login_attempts": 5,
  "lockout_duration_minutes": 15,
  "session_idle_days": 14,
  "rate_limits": {"login": [60, 60], "signup": [20, 3600]},
  "max_connections_per_ip": 64,
  "trusted_proxies": ["127.0.0.1", "::1"]
}
"""
SETTINGS = {
    "first-boot": FIRST_BOOT,
    "empty": "{}",
    "warnings": '{"max_upload_size_mb": "big", "stun_port": 70000, "session_idle_days": 3,'
    ' "colour": 1, "rate_limits": {"login": [5], "chat": [1, 1]}}',
    "channels": '{"channels": ["general", "dm:x", "", "ops", "ops", " pad", "a/b", "caf\u00e9"]}',
    "proxies": '{"trusted_proxies": ["10.0.0.1", "fe80::1", "not-an-ip"], '
    '"max_connections_per_ip": 0, "max_login_attempts": 0}',
    "not-object": '["general"]',
}

PERCENT = {
    "dm": "dm%3Aalice%3Abob",
    "utf8": "%E2%9C%93%20ok",
    "filename": "Quarterly%20Report%20(final).pdf",
    "plus": "a+b%2Bc",
    "bad-hex": "%zz",
    "short": "%4",
    "not-utf8": "%FF%FE",
    "plain": "hello world",
    "lower": "%c3%a9t%c3%a9",
}

NAMES = {
    "public": "general",
    "dm": "dm:bob:alice:bob",
    "private": "private:7",
    "image": f"{HEX}.png",
    "file": f"{HEX}_Quarterly_Report.pdf",
    "user": "alice",
    "user-max": "x" * 32,
    "reserved": "System",
    "ts": "1716000000.123456",
    "mentions": "hi @Alice and @bob, a@bob @",
    "accented": "R\u00e9sum\u00e9 final.PDF",
    "windows-path": "C:\\Users\\alice\\photo.JPG",
    "traversal": "../etc/passwd",
    "metadata": '{"original":"R\u00e9sum\u00e9.pdf"}',
    "long": "a" * 300 + ".tar",
}

def stun(fingerprint=False, attrs=b""):
    """A Binding request as a browser sends it (RFC 5389), optionally with attributes."""
    body = attrs
    if fingerprint:
        body += b"\x80\x28\x00\x04\x00\x00\x00\x00"  # the fuzzer finds the right CRC
    return struct.pack(">HHI", 1, len(body), 0x2112A442) + bytes(range(12)) + body


STUN = {
    "binding": stun(),
    "binding-fingerprint": stun(fingerprint=True),
    "binding-software": stun(attrs=b"\x80\x22\x00\x05libwe\x00\x00\x00"),
    "binding-priority": stun(attrs=b"\x00\x24\x00\x04\x6e\x7f\x1e\xff"),
    "rfc3489": struct.pack(">HH", 1, 0) + bytes(16),
    "http": b"GET / HTTP/1.1\r\n\r\n",
}

for target, seeds in [
    ("http_head", HTTP),
    ("websocket_frames", WS),
    ("json", JSON),
    ("settings", SETTINGS),
    ("percent_decode", PERCENT),
    ("names", NAMES),
    ("stun", STUN),
]:
    for name, data in seeds.items():
        write(target, name, data)
