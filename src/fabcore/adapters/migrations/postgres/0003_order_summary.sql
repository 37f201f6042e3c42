-- What an order summary shows, beside each order, so lists of orders do not
-- load the documents: the payment status, the agreed total (an exact
-- NUMERIC; both NULL without an agreed total) and the number of lines.
-- Orders stored by older versions are filled in from their documents.
--
-- Listing a shop's orders in one status is an index-only scan, in list
-- order, of the index that replaces orders_shop_status_created.

ALTER TABLE orders
    ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'unpaid',
    ADD COLUMN total_amount   NUMERIC,
    ADD COLUMN total_currency TEXT,
    ADD COLUMN line_count     INTEGER NOT NULL DEFAULT 0;

UPDATE orders SET
    payment_status = data ->> 'payment_status',
    total_amount = (data #>> '{agreed_quote,total,amount}')::numeric,
    total_currency = data #>> '{agreed_quote,total,currency}',
    line_count = jsonb_array_length(data -> 'lines');

DROP INDEX orders_shop_status_created;

CREATE INDEX orders_shop_status_summary ON orders (shop_id, status, created_at, number)
    INCLUDE (id, payment_status, customer_id, total_amount, total_currency, line_count);
