-- The `phone` and `address` scopes (OIDC Core §5.4, §5.1).
ALTER TABLE users ADD COLUMN phone_number TEXT;                              -- E.164 recommended, e.g. +81 3 1234 5678
ALTER TABLE users ADD COLUMN phone_number_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN address TEXT;                                   -- JSON object, OIDC Core §5.1.1
