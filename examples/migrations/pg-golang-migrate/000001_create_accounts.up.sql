CREATE TABLE accounts (
  id serial PRIMARY KEY,
  email text NOT NULL,
  nickname text,
  created_at timestamptz NOT NULL DEFAULT '2024-01-01T00:00:00Z'
);
INSERT INTO accounts (email, nickname)
SELECT 'user' || i || '@example.test', CASE WHEN i % 4 = 0 THEN NULL ELSE 'nick' || i END
FROM generate_series(1, 400) AS i;
