DELETE FROM stock WHERE product_id IN (SELECT id FROM products WHERE price_cents = 0);
