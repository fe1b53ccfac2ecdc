-- Indexes for the background purges: expired key-value records, and approvals by execution state.
CREATE INDEX kv_expires ON kv(expires_at);
CREATE INDEX approvals_expires ON approvals(status, expires_at);
