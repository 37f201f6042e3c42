-- A shop's mails, oldest first (the outbox listing of the back office and the API).

CREATE INDEX outbox_shop_created ON outbox (shop_id, created_at, seq);
