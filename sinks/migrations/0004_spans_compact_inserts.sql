-- Parts written by the sink's inserts (at most batch_max_rows = 100,000 rows,
-- usually a third of that per Kafka partition) are stored Compact: all
-- columns in one data file instead of ~250 files (a .bin and a marks file
-- per column and substream, plus the indexes). ClickHouse's default makes a
-- part Wide from 10 MB uncompressed, which every span insert is (~25 MB per
-- 33k rows), and creating those files was a third of the insert's CPU
-- (ext4 inode allocation in the kernel). 100k spans in three concurrent
-- inserts: 1.9 -> 1.4 s of CPU, 1.1 -> 0.75 s wall.
-- Merges still produce Wide parts once a part holds 500,000 rows, so the
-- large, long-lived parts keep the per-column layout that column scans
-- read best. Rows rather than bytes: the sink's batches are sized in rows,
-- so every insert is below the threshold whatever the span sizes.

ALTER TABLE spans MODIFY SETTING min_rows_for_wide_part = 500000;
