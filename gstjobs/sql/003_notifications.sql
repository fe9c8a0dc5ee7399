-- Delivery claims due rows tenant by tenant (per-tenant cap), oldest due first.
CREATE INDEX IF NOT EXISTS notifications_tenant_due_idx
  ON notifications (tenant_id, next_attempt_at, id) WHERE status = 'pending';
-- `gstjobs notify list --status failed` and the health report's look at the queue.
CREATE INDEX IF NOT EXISTS notifications_status_idx ON notifications (status, id);
