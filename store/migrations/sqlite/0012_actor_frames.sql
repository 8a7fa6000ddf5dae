-- Per-actor frame lists of complete blocks: which frames of a block hold
-- an account's entries, so a search for one account over a long window
-- reads those frames only instead of decoding every frame of every block
-- the account appears in. Written when a block is complete (sealed = 1).
ALTER TABLE event_blocks ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
CREATE TABLE actor_frames (
    actor  TEXT    NOT NULL,
    block  INTEGER NOT NULL,
    frames BLOB    NOT NULL, -- first index of each frame, varint deltas
    PRIMARY KEY (actor, block)
) WITHOUT ROWID;
