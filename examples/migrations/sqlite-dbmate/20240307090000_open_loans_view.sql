-- migrate:up
CREATE VIEW v_open_loans AS
  SELECT loans.id, books.title, loans.lent_on
  FROM loans JOIN books ON books.id = loans.book_id
  WHERE loans.returned_on IS NULL;
