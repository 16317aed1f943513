-- Nothing to change: search_colors_by_image already INCLUDEs the Lab values the color probe
-- reads (migration 0020); SQLite gets the same covering index in its 0085. Kept so both
-- dialects share their versions.
SELECT 1;
