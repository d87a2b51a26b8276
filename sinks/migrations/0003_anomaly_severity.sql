-- AnomalyRecord gained `severity` ("warning" | "critical": |z| >= 2x the
-- threshold). Additive: rows written before this migration read 'warning',
-- the value the worker gives every anomaly below twice the threshold.
-- LowCardinality: two values.

ALTER TABLE anomalies ADD COLUMN IF NOT EXISTS severity LowCardinality(String) DEFAULT 'warning';
