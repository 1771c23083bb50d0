-- Undo track-rating.up.sql.
DROP INDEX ix_track_rating_stars;
DROP TABLE track_rating;
