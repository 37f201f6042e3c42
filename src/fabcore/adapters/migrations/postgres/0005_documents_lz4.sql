-- Documents are compressed with LZ4 rather than the default pglz: order and
-- outbox documents are rewritten on every status change, and LZ4 compresses
-- and decompresses them several times faster for nearly the same size. A
-- server built without LZ4 keeps pglz. Existing rows stay as they are until
-- they are next written.

DO $$
BEGIN
    ALTER TABLE orders ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE outbox ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no LZ4 support; documents stay compressed with pglz';
END
$$;
