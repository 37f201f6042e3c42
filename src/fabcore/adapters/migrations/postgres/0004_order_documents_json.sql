-- Order documents become plain JSON, like the outbox's: they are written on
-- every change and read whole, and JSONB's conversion on every write and
-- read cost more than queries gain from it (the columns beside the document
-- hold what lists filter on and show; JSON paths still work via data::jsonb).

ALTER TABLE orders ALTER COLUMN data TYPE JSON USING data::json;
