-- Aggregates are JSONB documents (the adapters' cattrs converter); the other
-- columns copy what queries filter and sort on. Outbox documents (rendered
-- mails) are only ever read whole, so they are plain JSON: stored as sent,
-- without JSONB's conversion on every write and read.

CREATE TABLE shops (
    id      TEXT PRIMARY KEY,
    data    JSONB NOT NULL,
    catalog JSONB NOT NULL
);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    email_lower TEXT NOT NULL,
    data        JSONB NOT NULL,
    UNIQUE (shop_id, email_lower)
);

CREATE TABLE orders (
    id          TEXT PRIMARY KEY,
    shop_id     TEXT NOT NULL REFERENCES shops (id),
    number      TEXT NOT NULL,
    customer_id TEXT REFERENCES customers (id),
    status      TEXT NOT NULL,
    po_due_date DATE,
    created_at  TIMESTAMPTZ NOT NULL,
    version     INTEGER NOT NULL,
    data        JSONB NOT NULL,
    UNIQUE (shop_id, number)
);

CREATE INDEX orders_shop_status_created ON orders (shop_id, status, created_at);

-- No foreign key: numbers are handed out outside the unit of work that uses them.
CREATE TABLE order_numbers (
    shop_id TEXT PRIMARY KEY,
    last    BIGINT NOT NULL
);

CREATE TABLE outbox (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    shop_id         TEXT NOT NULL REFERENCES shops (id),
    order_id        TEXT REFERENCES orders (id),
    status          TEXT NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL,
    data            JSON NOT NULL
);

CREATE INDEX outbox_status_next_attempt ON outbox (status, next_attempt_at);
