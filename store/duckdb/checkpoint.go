package duckdb

import (
	"context"
	"fmt"

	"github.com/keymeter/keymeter"
)

var (
	_ keymeter.Checkpointer     = (*writer)(nil)
	_ keymeter.CheckpointReader = (*DB)(nil)
)

// checkpointKey names one shard of one stream.
type checkpointKey struct{ stream, shard string }

// SetCheckpoint implements keymeter.Checkpointer. The checkpoint is kept
// in memory and written at Commit, after the rows, in the same
// transaction.
func (w *writer) SetCheckpoint(ctx context.Context, stream, shard, sequence string) error {
	if stream == "" || shard == "" || sequence == "" {
		return fmt.Errorf("set checkpoint: empty stream (%q), shard (%q) or sequence (%q)", stream, shard, sequence)
	}
	if err := w.begin(ctx); err != nil {
		return err
	}
	if w.checkpoints == nil {
		w.checkpoints = make(map[checkpointKey]string)
	}
	w.checkpoints[checkpointKey{stream, shard}] = sequence
	return nil
}

// writeCheckpoints stores this transaction's checkpoints.
func (w *writer) writeCheckpoints(ctx context.Context) error {
	if len(w.checkpoints) == 0 {
		return nil
	}
	now := w.db.opts.Now().UTC()
	args := make([]any, 0, 4*len(w.checkpoints))
	for k, seq := range w.checkpoints {
		args = append(args, keymeter.ValidUTF8(k.stream), keymeter.ValidUTF8(k.shard), keymeter.ValidUTF8(seq), now)
	}
	for start := 0; start < len(args); start += 2000 {
		part := args[start:min(start+2000, len(args))]
		_, err := w.conn.ExecContext(ctx, `INSERT INTO checkpoints VALUES `+placeholders(len(part)/4, 4)+`
			ON CONFLICT (stream, shard) DO UPDATE SET sequence = excluded.sequence, updated_at = excluded.updated_at`, part...)
		if err != nil {
			return fmt.Errorf("store checkpoints: %w", err)
		}
	}
	return nil
}

// Checkpoints implements keymeter.CheckpointReader.
func (s *DB) Checkpoints(ctx context.Context, stream string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT shard, sequence FROM checkpoints WHERE stream = ?`, keymeter.ValidUTF8(stream))
	if err != nil {
		return nil, fmt.Errorf("read checkpoints of %s: %w", stream, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var shard, seq string
		if err := rows.Scan(&shard, &seq); err != nil {
			return nil, fmt.Errorf("read checkpoints of %s: %w", stream, err)
		}
		out[shard] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoints of %s: %w", stream, err)
	}
	return out, nil
}
