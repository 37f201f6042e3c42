-- Invoice numbers per shop, without gaps: the counter is raised in the
-- transaction that records the invoice, so a rolled-back invoice gives its
-- number back.

CREATE TABLE invoice_numbers (
    shop_id TEXT PRIMARY KEY REFERENCES shops (id),
    last    INTEGER NOT NULL
);
