-- What an order summary shows, beside each order, so lists of orders do not
-- load the documents: the payment status, the agreed total (its amount as
-- exact decimal text; both NULL without an agreed total) and the number of
-- lines. Orders stored by older versions are filled in from their documents.
--
-- Listing a shop's orders in one status reads only the index that replaces
-- orders_shop_status_created: it holds every summary column, in list order.

ALTER TABLE orders ADD COLUMN payment_status TEXT NOT NULL DEFAULT 'unpaid';

ALTER TABLE orders ADD COLUMN total_amount TEXT;

ALTER TABLE orders ADD COLUMN total_currency TEXT;

ALTER TABLE orders ADD COLUMN line_count INTEGER NOT NULL DEFAULT 0;

UPDATE orders SET
    payment_status = json_extract(data, '$.payment_status'),
    total_amount = json_extract(data, '$.agreed_quote.total.amount'),
    total_currency = json_extract(data, '$.agreed_quote.total.currency'),
    line_count = json_array_length(data, '$.lines');

DROP INDEX orders_shop_status_created;

CREATE INDEX orders_shop_status_summary ON orders (
    shop_id, status, created_at, number,
    id, payment_status, customer_id, total_amount, total_currency, line_count
);
