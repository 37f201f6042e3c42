-- Background work: the relay run holding an outbox message's lease (so the
-- same run, restarted after its worker died, takes it back), and large
-- uploads waiting for their analysis in a worker.

ALTER TABLE outbox ADD COLUMN lease_holder TEXT;

CREATE INDEX outbox_lease_holder ON outbox (lease_holder) WHERE lease_holder IS NOT NULL;

CREATE TABLE analysis_requests (
    sha256 TEXT NOT NULL,
    units  TEXT NOT NULL,
    state  TEXT NOT NULL,
    data   JSONB NOT NULL,
    PRIMARY KEY (sha256, units)
);
