-- Who signs in (accounts), the hashed secrets that stand for them (sessions,
-- single-use links, API keys), attempt counters for throttling sign-ins, and
-- the analyses of stored model files (so an upload is analysed once).

CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    email_lower TEXT NOT NULL,
    customer_id TEXT REFERENCES customers (id),
    staff       BOOLEAN NOT NULL,
    data        JSONB NOT NULL,
    UNIQUE (shop_id, email_lower)
);

CREATE INDEX accounts_customer ON accounts (customer_id);

CREATE TABLE secrets (
    digest     TEXT PRIMARY KEY,
    shop_id    TEXT NOT NULL REFERENCES shops (id),
    kind       TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id),
    created_at TIMESTAMPTZ NOT NULL,
    data       JSONB NOT NULL
);

CREATE INDEX secrets_shop_kind ON secrets (shop_id, kind, created_at);

CREATE INDEX secrets_account_kind ON secrets (account_id, kind);

CREATE TABLE throttle (
    key          TEXT PRIMARY KEY,
    window_start TIMESTAMPTZ NOT NULL,
    hits         INTEGER NOT NULL
);

CREATE TABLE analyses (
    sha256 TEXT NOT NULL,
    units  TEXT NOT NULL,
    data   JSON NOT NULL,
    PRIMARY KEY (sha256, units)
);
