DROP TRIGGER trg_products_touch ON products;
DROP FUNCTION touch_updated_at();
ALTER TABLE products DROP COLUMN updated_at;
