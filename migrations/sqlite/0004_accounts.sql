-- Issue 11 §2: a per-user security stamp. `user passwd` and `user disable` add one to it; every
-- browser session, authorization code, refresh token and access token carries the value it was
-- issued under and stops counting once they differ (`user enable` does not roll it back).
ALTER TABLE users ADD COLUMN security_stamp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE authorization_codes ADD COLUMN security_stamp INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN security_stamp INTEGER NOT NULL DEFAULT 0;
CREATE INDEX refresh_tokens_sub ON refresh_tokens(sub);

-- Issue 11 §4: the email as `email::normalize` spells it (NFC, PRECIS UsernameCaseMapped local
-- part, IDNA domain). SQL cannot compute it: existing rows start NULL and are filled in by the
-- server at start and by `sekimori migrate`; a row whose normalized form another account already
-- holds (or that no longer normalizes) stays NULL and is reported, never merged. NULLs do not
-- collide, so the index is unique from the start.
ALTER TABLE users ADD COLUMN email_normalized TEXT;
CREATE UNIQUE INDEX users_email_normalized ON users(email_normalized);
