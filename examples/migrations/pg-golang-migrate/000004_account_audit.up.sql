CREATE TABLE account_audit (account_id integer NOT NULL, changed_at timestamptz NOT NULL);
CREATE FUNCTION audit_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO account_audit VALUES (NEW.id, now());
  RETURN NEW;
END;
$$;
CREATE TRIGGER trg_accounts_audit AFTER UPDATE ON accounts
  FOR EACH ROW EXECUTE FUNCTION audit_account();
