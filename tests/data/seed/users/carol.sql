-- carol's password-reset notice conversation (read-only).
INSERT INTO messages(id, channel, sender, content, content_type, ts, read)
  VALUES (7, 'dm:carol:system', 'system', 'A password reset has been requested for your account. The reset link will expire in 60 minutes. If you did not request this, please contact your administrators.', 'system', 1700000600.9, 0);
