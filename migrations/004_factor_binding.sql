-- 004_factor_binding: bind each factor row's checksum to what the bytes belong to.
--
-- edit_factors.sha256 (002) covers the ut / vt bytes only: rewriting a row's layer (or edit_id, tensor, ...) in SQL
-- moved an edit to another layer and it still verified. bound_sha256 is the sha256 of a header naming the edit id,
-- delta index, layer, tensor, rank, shape and dtype, followed by the bytes (factors.ts boundFactorSha256); it is
-- what every read checks from now on.
--
-- Rows written before this migration are upgraded here by eac_factor_bound_sha256(...), which migrate() registers:
-- it first checks the row against its old sha256 and returns NULL when the bytes no longer match it, so a row that
-- was tampered with before the upgrade is not blessed with a fresh checksum; a NULL bound_sha256 is reported as
-- corrupt on every read (naming the edit). What the old rule could not see (a layer rewritten before this upgrade)
-- the upgrade cannot see either.

ALTER TABLE edit_factors ADD COLUMN bound_sha256 TEXT
  CHECK (bound_sha256 IS NULL OR (length(bound_sha256) = 64 AND bound_sha256 NOT GLOB '*[^0-9a-f]*'));

-- edit_factors is append-only: lift the guard for this one statement
DROP TRIGGER edit_factors_no_update;
UPDATE edit_factors SET bound_sha256 = eac_factor_bound_sha256(edit_id, ord, layer, tensor, rank, d_out, d_in, ut, vt, sha256);
CREATE TRIGGER edit_factors_no_update BEFORE UPDATE ON edit_factors BEGIN SELECT RAISE(ABORT, 'edit_factors is append-only'); END;

CREATE TRIGGER edit_factors_need_bound_sha256 BEFORE INSERT ON edit_factors WHEN NEW.bound_sha256 IS NULL
BEGIN
  SELECT RAISE(ABORT, 'edit_factors: bound_sha256 is required');
END;
