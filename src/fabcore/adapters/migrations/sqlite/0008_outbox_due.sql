-- The relay claims the oldest pending mails: walking this index in order it
-- stops after the few it takes, where the index on (status, next_attempt_at)
-- had every pending mail read and sorted for each claim (a claim's cost grew
-- with the queue behind it).

DROP INDEX outbox_status_next_attempt;

CREATE INDEX outbox_due ON outbox (status, created_at, seq);
