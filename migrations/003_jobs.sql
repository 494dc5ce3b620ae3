-- 003_jobs: the job table of a workspace (issue 11). Work the engine runs for the user (queue runs,
-- health checks, statistics, revert, remove, replay, re-apply, export, open model) is a job owned by
-- the engine, not by the window that asked for it: every window lists the same jobs, and after a
-- restart a job that was running shows up as 'interrupted' (with Retry) and a paused queue as
-- 'paused' (with Resume / Override / Cancel).
--
-- Jobs are work records, not history: state, progress and result change in place (no append-only
-- triggers). Their log lines are appended to job_log. This migration only adds tables, so it does
-- not depend on the order in which it and 002 are applied.

CREATE TABLE jobs (
  id            INTEGER PRIMARY KEY,
  model_id      INTEGER REFERENCES models (id),
  kind          TEXT    NOT NULL CHECK (kind IN ('queue', 'health', 'statistics', 'revert', 'remove', 'replay', 'reapply', 'export', 'open')),
  title         TEXT    NOT NULL,
  params_json   TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params_json)),
  state         TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'pausing', 'paused', 'done', 'failed', 'cancelled', 'interrupted')),
  progress_json TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(progress_json)),
  -- the ledger head (newest live edit's seq) when the job was asked for; a queued destructive job is
  -- refused when the head moved before its turn
  head_seq      INTEGER,
  queue_id      INTEGER REFERENCES queues (id),
  retry_of      INTEGER REFERENCES jobs (id),
  created_at    TEXT    NOT NULL,
  started_at    TEXT,
  ended_at      TEXT,
  result_json   TEXT CHECK (result_json IS NULL OR json_valid(result_json)),
  -- { "message": ..., "code": ... }
  error_json    TEXT CHECK (error_json IS NULL OR json_valid(error_json))
);
CREATE INDEX jobs_by_model ON jobs (model_id, id);

CREATE TABLE job_log (
  job_id  INTEGER NOT NULL REFERENCES jobs (id),
  line    INTEGER NOT NULL CHECK (line >= 1),
  at      TEXT    NOT NULL,
  level   TEXT    NOT NULL CHECK (level IN ('info', 'warn', 'error')),
  message TEXT    NOT NULL,
  PRIMARY KEY (job_id, line)
);
