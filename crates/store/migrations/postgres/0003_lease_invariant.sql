-- Only a queued or running execution can hold a lease: every change that waits, finishes or
-- cancels an execution also releases it. The executor's commits fence on the lease owner alone,
-- which this makes sufficient.
ALTER TABLE executions
  ADD CONSTRAINT executions_lease_active CHECK (lease_owner IS NULL OR status IN ('queued', 'running'));
