-- auth.db as the Python original wrote it: its three tables, no indexes of ours,
-- user_version 0. Passwords: alice 'Winter2024!' (Werkzeug pbkdf2), bob 'Winter2024!'
-- (Werkzeug scrypt), carol 'Passw0rd!' (Werkzeug pbkdf2, 1000 iterations).
CREATE TABLE users(username TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
CREATE TABLE user_settings(username TEXT PRIMARY KEY, name_color TEXT, avatar_file TEXT, bio TEXT);
CREATE TABLE password_reset_tokens(token TEXT PRIMARY KEY, username TEXT NOT NULL,
                                   expires_ts REAL NOT NULL, used INTEGER NOT NULL DEFAULT 0);
INSERT INTO users VALUES ('alice', 'pbkdf2:sha256:1000000$2jyBxBwsE9VZxLrz$faf374d3f9f82fffd5a55cf2b6b1f1c90a1a19dc0b1d0ae696ece6ecbe5995b7');
INSERT INTO users VALUES ('bob', 'scrypt:32768:8:1$7PEoanytoMTFqYsC$f2c0e1749772b6566b60202495d76a2ef3fde0ed1e5a7b082700936637f59161b7f9a1260de6cbcbf56136dcf6e5ee556967cd774075994b2174a6dc53c0c2fa');
INSERT INTO users VALUES ('carol', 'pbkdf2:sha256:1000$iZAW8eIWsRU2EtVO$f05aed9519881afd29635022b6917cf335763038564429442b715f4603d2dfbb');
INSERT INTO user_settings VALUES ('alice', '#e91e63', 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0.png', 'Ops lead');
INSERT INTO user_settings VALUES ('bob', NULL, NULL, NULL);
INSERT INTO password_reset_tokens VALUES ('usedtokenusedtokenusedtokenusedtokenusedtok', 'carol', 4102444800.0, 1);
INSERT INTO password_reset_tokens VALUES ('expiredtokenexpiredtokenexpiredtokenexpired', 'carol', 1700000600.9, 0);
