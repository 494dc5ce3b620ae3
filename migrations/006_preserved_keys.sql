-- 004_preserved_keys: AlphaEdit's preserved second moment K_p K_pᵀ is model state (issue 18). Every
-- AlphaEdit / EAC-AlphaEdit edit adds K Kᵀ of its keys at each of its layers; the keys themselves are
-- stored with the edit (exact float64 bytes, little-endian, row-major [n, d_ff]) so that the moment
-- of any live set — after a revert, a removal and replay, a re-apply — is rebuilt by summing the
-- live edits' keys in seq order, never by subtracting. Append-only, like the factors.

CREATE TABLE edit_keys (
  edit_id INTEGER NOT NULL REFERENCES edits (id),
  layer   INTEGER NOT NULL CHECK (layer >= 0),
  n       INTEGER NOT NULL CHECK (n >= 1),
  d_ff    INTEGER NOT NULL CHECK (d_ff >= 1),
  keys    BLOB    NOT NULL CHECK (length(keys) = 8 * n * d_ff),
  -- lowercase hex sha256 of the keys bytes
  sha256  TEXT    NOT NULL CHECK (length(sha256) = 64),
  PRIMARY KEY (edit_id, layer)
);

CREATE TRIGGER edit_keys_no_update BEFORE UPDATE ON edit_keys BEGIN SELECT RAISE(ABORT, 'edit_keys is append-only'); END;
CREATE TRIGGER edit_keys_no_delete BEFORE DELETE ON edit_keys BEGIN SELECT RAISE(ABORT, 'edit_keys is append-only'); END;
