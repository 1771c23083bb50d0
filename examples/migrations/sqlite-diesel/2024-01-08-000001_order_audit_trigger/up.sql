CREATE TABLE order_audit (order_id INTEGER NOT NULL, changed_at TEXT NOT NULL);
CREATE TRIGGER trg_order_audit AFTER UPDATE ON orders
BEGIN
  INSERT INTO order_audit VALUES (new.id, datetime('now'));
END;
