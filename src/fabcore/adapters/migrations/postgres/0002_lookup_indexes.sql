-- All of a shop's orders and a customer's orders, newest first; an order's
-- mails; PO payments falling due.

CREATE INDEX orders_shop_created ON orders (shop_id, created_at);

CREATE INDEX orders_shop_customer_created ON orders (shop_id, customer_id, created_at);

CREATE INDEX outbox_order ON outbox (order_id, seq);

CREATE INDEX orders_po_due ON orders (po_due_date) WHERE status = 'po_payment_due';
