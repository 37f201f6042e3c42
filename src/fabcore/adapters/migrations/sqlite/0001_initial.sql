-- Aggregates are JSON documents (the adapters' cattrs converter); the other
-- columns copy what queries filter and sort on. Times are UTC text in one
-- fixed-width format, so they sort as text.

CREATE TABLE shops (
    id      TEXT PRIMARY KEY,
    data    TEXT NOT NULL,
    catalog TEXT NOT NULL
);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    email_lower TEXT NOT NULL,
    data        TEXT NOT NULL,
    UNIQUE (shop_id, email_lower)
);

CREATE TABLE orders (
    id          TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    number      TEXT NOT NULL,
    customer_id TEXT REFERENCES customers (id),
    status      TEXT NOT NULL,
    po_due_date TEXT,
    created_at  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT NOT NULL,
    UNIQUE (shop_id, number)
);

CREATE INDEX orders_shop_status_created ON orders (shop_id, status, created_at);

-- No foreign key: numbers are handed out outside the unit of work that uses them.
CREATE TABLE order_numbers (
    shop_id TEXT PRIMARY KEY,
    last    INTEGER NOT NULL
);

CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    shop_id         TEXT NOT NULL REFERENCES shops (id),
    order_id        TEXT REFERENCES orders (id),
    status          TEXT NOT NULL,
    next_attempt_at TEXT,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    data            TEXT NOT NULL
);

CREATE INDEX outbox_status_next_attempt ON outbox (status, next_attempt_at);
