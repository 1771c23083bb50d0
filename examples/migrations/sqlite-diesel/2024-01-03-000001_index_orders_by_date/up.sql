CREATE INDEX ix_orders_date ON orders (placed_at);
