-- Login failure counters shared by every node (issue 11 §1), and server-wide secrets.
--
-- One row per throttling key that has failures outstanding. `key` is `<kind>:<sha256 hex>` of the
-- subject (account, account + source address, source address, or device cookie), so its size is
-- fixed whatever a client sends and no email or address is stored. Each failure pushes
-- `clear_at` (Unix seconds) one period further past max(clear_at, now); a key refuses attempts
-- while clear_at - now exceeds (burst - 1) periods (GCRA). A row whose clear_at has passed
-- means nothing and is purged hourly.
CREATE TABLE login_failures (
    key      TEXT PRIMARY KEY,
    clear_at BIGINT NOT NULL
);
CREATE INDEX login_failures_clear_at ON login_failures(clear_at);

-- Secrets every node must share, created by the first node that needs one (e.g. `device_cookie`:
-- the HMAC-SHA256 key that signs device cookies). `secret` is base64url.
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
