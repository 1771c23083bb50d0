-- WRONG on purpose: the row goes, the sequence stays advanced.
DELETE FROM products WHERE sku = 'PROMO-1';
