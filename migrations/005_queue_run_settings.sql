-- 004_queue_run_settings: the settings a queue runs with (issue 19, item 10). A queue's method and
-- profile were stored with it, but its run settings (batch size, health schedule and tasks, guardrails,
-- the "did not take" threshold) lived only in the form and the runner's memory: after a reload or a
-- restart a guardrail-paused queue showed "Health every 0" and a plain Resume ran the rest with no
-- checks. They are stored here when a run starts; Resume and the UI read them back from the ledger.
--
-- NULL: no run has started on the queue yet (or it was made before this migration). The column is a
-- work setting, not history: a later run with other settings replaces it.
ALTER TABLE queues ADD COLUMN run_json TEXT CHECK (run_json IS NULL OR json_valid(run_json));
