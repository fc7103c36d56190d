-- Keyset pages of lists that had no index in their order, so every page would scan and sort the
-- table: the open offers (status, then created at and id), the committee's unfiltered application
-- list (updated at, id) and the operator's account list (kind, username; the username is unique).
CREATE INDEX ix_offers_open ON offers (status, created_at, offer_id);
CREATE INDEX ix_applications_updated ON applications (updated_at, id);
CREATE INDEX ix_accounts_kind_username ON accounts (kind, username_normalized);
