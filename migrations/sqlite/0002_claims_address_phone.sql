-- Claims asked for one by one with the `claims` parameter (OIDC Core §5.5) beyond the granted
-- scopes, released at userinfo: space-delimited names, carried from the code to its grant.
ALTER TABLE authorization_codes ADD COLUMN userinfo_claims TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN userinfo_claims TEXT NOT NULL DEFAULT '';

-- The `phone` and `address` scopes (OIDC Core §5.4, §5.1).
ALTER TABLE users ADD COLUMN phone_number TEXT;                              -- E.164, e.g. +81 3 1234 5678
ALTER TABLE users ADD COLUMN phone_number_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN address TEXT;                                   -- JSON object, OIDC Core §5.1.1
