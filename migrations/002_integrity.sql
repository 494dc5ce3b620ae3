-- 002_integrity: a checksum on every factor row, and the ledger head each edit was computed on.
--
-- edit_factors.sha256: lowercase hex sha256 of the ut bytes followed by the vt bytes. Written by
-- Ledger.recordEdit, checked whenever factors are read for a rebuild or an export (a flipped bit is
-- reported with the edit id). Rows written before this migration are hashed here, once, by the
-- eac_factor_sha256(ut, vt) SQL function that migrate() registers on the connection.
--
-- edits.base_event_id: the id of the newest state-changing event (edit / revert / remove / replay)
-- of the model when the edit was computed; 0 = none yet (the base model). Ledger.recordEdit refuses
-- the write when the head moved in between (another writer changed the live set). NULL = recorded
-- before this migration.

ALTER TABLE edit_factors ADD COLUMN sha256 TEXT
  CHECK (sha256 IS NULL OR (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'));

ALTER TABLE edits ADD COLUMN base_event_id INTEGER CHECK (base_event_id IS NULL OR base_event_id >= 0);

-- backfill the checksums (edit_factors is append-only: lift the guard for this one statement)
DROP TRIGGER edit_factors_no_update;
UPDATE edit_factors SET sha256 = eac_factor_sha256(ut, vt);
CREATE TRIGGER edit_factors_no_update BEFORE UPDATE ON edit_factors BEGIN SELECT RAISE(ABORT, 'edit_factors is append-only'); END;

-- from now on every factor row carries its checksum
CREATE TRIGGER edit_factors_need_sha256 BEFORE INSERT ON edit_factors WHEN NEW.sha256 IS NULL
BEGIN
  SELECT RAISE(ABORT, 'edit_factors: sha256 is required');
END;
