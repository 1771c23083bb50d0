-- A shop schema of our own (no third-party DDL): the non-surface schema
-- behind bench/generate-open.sh and the engine's tests (src/generate/engine/tests.rs).
-- 14 tables: foreign keys (one self-reference, one composite), UNIQUE
-- constraints and unique indexes (one partial, one on an expression),
-- CHECKs of the common shapes, AUTOINCREMENT, WITHOUT ROWID, a view and a
-- trigger.
CREATE TABLE customer (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
  first_name TEXT NOT NULL,
  last_name TEXT NOT NULL,
  phone TEXT,
  password_hash TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
  created_at TEXT NOT NULL,
  deleted_at TEXT
);
CREATE TABLE address (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customer(id),
  street TEXT NOT NULL,
  city TEXT NOT NULL,
  postal_code TEXT NOT NULL,
  country_code TEXT NOT NULL CHECK (length(country_code) = 2),
  is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1))
);
CREATE TABLE category (
  id INTEGER PRIMARY KEY,
  parent_id INTEGER REFERENCES category(id),
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE
);
CREATE TABLE supplier (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT,
  website TEXT,
  country TEXT
);
CREATE TABLE product (
  id INTEGER PRIMARY KEY,
  sku TEXT NOT NULL UNIQUE,
  category_id INTEGER NOT NULL REFERENCES category(id),
  supplier_id INTEGER REFERENCES supplier(id),
  name TEXT NOT NULL,
  description TEXT,
  price NUMERIC(10,2) NOT NULL CHECK (price >= 0),
  weight_g INTEGER CHECK (weight_g BETWEEN 1 AND 50000),
  created_at TEXT NOT NULL
);
CREATE TABLE tag (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE product_tag (
  product_id INTEGER NOT NULL REFERENCES product(id),
  tag_id INTEGER NOT NULL REFERENCES tag(id),
  PRIMARY KEY (product_id, tag_id)
) WITHOUT ROWID;
CREATE TABLE warehouse (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL UNIQUE CHECK (length(code) <= 12),
  city TEXT NOT NULL
);
CREATE TABLE inventory (
  product_id INTEGER NOT NULL REFERENCES product(id),
  warehouse_id INTEGER NOT NULL REFERENCES warehouse(id),
  quantity INTEGER NOT NULL CHECK (quantity >= 0),
  updated_at TEXT NOT NULL,
  PRIMARY KEY (product_id, warehouse_id)
) WITHOUT ROWID;
CREATE TABLE coupon (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL,
  percent INTEGER NOT NULL CHECK (percent BETWEEN 1 AND 90),
  starts_at TEXT NOT NULL,
  ends_at TEXT NOT NULL,
  CHECK (starts_at < ends_at)
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customer(id),
  address_id INTEGER REFERENCES address(id),
  coupon_id INTEGER REFERENCES coupon(id),
  status TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
  total NUMERIC(12,2) NOT NULL CHECK (total >= 0),
  placed_at TEXT NOT NULL,
  note TEXT
);
CREATE TABLE order_item (
  order_id INTEGER NOT NULL REFERENCES orders(id),
  line_no INTEGER NOT NULL,
  product_id INTEGER NOT NULL REFERENCES product(id),
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  unit_price NUMERIC(10,2) NOT NULL CHECK (unit_price >= 0),
  PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;
CREATE TABLE payment (
  id INTEGER PRIMARY KEY,
  order_id INTEGER NOT NULL REFERENCES orders(id),
  reference TEXT NOT NULL,
  amount NUMERIC(12,2) NOT NULL CHECK (amount > 0),
  method TEXT NOT NULL CHECK (method IN ('card', 'transfer', 'wallet')),
  paid_at TEXT NOT NULL
);
CREATE TABLE review (
  id INTEGER PRIMARY KEY,
  product_id INTEGER NOT NULL REFERENCES product(id),
  customer_id INTEGER NOT NULL REFERENCES customer(id),
  rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
  title TEXT,
  body TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (product_id, customer_id)
);
CREATE UNIQUE INDEX payment_reference ON payment(reference);
CREATE UNIQUE INDEX coupon_code ON coupon(upper(code));
CREATE UNIQUE INDEX customer_phone ON customer(phone) WHERE phone IS NOT NULL;
CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX orders_placed ON orders(placed_at);
CREATE INDEX order_item_product ON order_item(product_id);
CREATE INDEX review_product ON review(product_id);
CREATE INDEX product_category ON product(category_id);
CREATE VIEW order_totals AS
  SELECT o.id, o.customer_id, sum(i.quantity * i.unit_price) AS items_total
  FROM orders o JOIN order_item i ON i.order_id = o.id GROUP BY o.id;
CREATE TRIGGER customer_closed AFTER UPDATE OF status ON customer
  WHEN new.status = 'closed'
BEGIN
  UPDATE customer SET deleted_at = datetime('now') WHERE id = new.id;
END;
