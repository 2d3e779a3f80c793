-- Sekimori schema, PostgreSQL flavour. Times are Unix seconds (BIGINT); flags are 0/1 BIGINTs so the
-- same queries decode identically through sqlx's Any driver on SQLite and PostgreSQL.

CREATE TABLE users (
    sub            TEXT PRIMARY KEY,          -- OIDC Core §2 subject identifier (random, never reassigned)
    email          TEXT NOT NULL UNIQUE,      -- stored lower-cased
    name           TEXT NOT NULL,
    email_verified BIGINT NOT NULL DEFAULT 0,
    disabled       BIGINT NOT NULL DEFAULT 0,  -- 1: cannot log in; tokens refused
    password_hash  TEXT NOT NULL,             -- argon2id PHC string
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE clients (
    client_id           TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    secret_hash         TEXT,                 -- SHA-256 (hex) of the secret; NULL for public clients
    redirect_uris       TEXT NOT NULL,        -- JSON array of exact strings
    scope               TEXT NOT NULL,        -- space-delimited scopes the client may be granted
    grant_types         TEXT NOT NULL,        -- space-delimited
    id_token_signed_response_alg     TEXT NOT NULL DEFAULT 'RS256',  -- OIDC Registration §2
    access_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256',
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',  -- JSON array (RP-Initiated Logout §3)
    first_party         BIGINT NOT NULL DEFAULT 0,  -- 1: trusted, no consent page
    logo_uri            TEXT,                 -- RFC 7591 §2 metadata shown on the consent page
    policy_uri          TEXT,
    tos_uri             TEXT,
    registration_token_hash TEXT,             -- RFC 7592: SHA-256 of the registration access token
    created_at          BIGINT NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,          -- SHA-256 (hex) of the code
    client_id      TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    sub            TEXT NOT NULL REFERENCES users(sub) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    id_token_claims TEXT NOT NULL DEFAULT '',  -- claims requested for the ID token (OIDC Core §5.5)
    auth_time      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    consumed_at    BIGINT,
    grant_id       TEXT,                      -- set at redemption: what a replay revokes
    created_at     BIGINT NOT NULL
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes(expires_at);

CREATE TABLE refresh_tokens (
    token_hash     TEXT PRIMARY KEY,          -- SHA-256 (hex) of the token
    family_id      TEXT NOT NULL,             -- the grant id: every rotation of one grant shares it
    code_hash      TEXT,                      -- the code that started the family (replay revokes it)
    client_id      TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    sub            TEXT NOT NULL REFERENCES users(sub) ON DELETE CASCADE,
    scope          TEXT NOT NULL,
    id_token_claims TEXT NOT NULL DEFAULT '',
    auth_time      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,               -- idle expiry, never past family_expires_at
    family_expires_at BIGINT NOT NULL,            -- absolute expiry of the whole grant
    rotated_at     BIGINT,
    revoked_at     BIGINT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_code_hash ON refresh_tokens(code_hash);

CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);

-- Deny-list of access tokens (by jti) and whole grants (by grant id) revoked before they expire.
-- An entry lives until the last access token it covers has expired.
CREATE TABLE revocations (
    id         TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revocations_expires_at ON revocations(expires_at);

-- What each user allowed each third-party client (the consent page's answer).
CREATE TABLE consents (
    sub        TEXT NOT NULL REFERENCES users(sub) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,                 -- space-delimited, the union of what was allowed
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (sub, client_id)
);

-- RFC 7591 §3: initial access tokens the operator hands to developers (single use).
CREATE TABLE initial_access_tokens (
    token_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    data        TEXT NOT NULL,                -- JSON of the tower-sessions record data
    expiry_date BIGINT NOT NULL              -- Unix seconds
);
CREATE INDEX sessions_expiry_date ON sessions(expiry_date);
