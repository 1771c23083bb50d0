-- WRONG on purpose: the trigger belongs to orders and survives.
DROP TABLE order_audit;
