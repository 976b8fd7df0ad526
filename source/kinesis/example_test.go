package kinesis_test

import (
	"context"
	"database/sql"
	"log"

	"github.com/keymeter/keymeter/source/kinesis"
)

// The checkpoint contract: each page's events and its shard's checkpoint
// are committed in one transaction, and a restart resumes from the
// committed checkpoints. (Not run: it needs AWS and a database.)
func ExampleStream_ReadAll() {
	ctx := context.Background()
	var db *sql.DB // the store

	s, err := kinesis.Open(ctx, kinesis.Config{Region: "eu-west-1"}, "cloudfront-realtime-logs")
	if err != nil {
		log.Fatal(err)
	}
	checkpoints := map[string]string{} // shard ID → sequence number, loaded from db
	err = s.ReadAll(ctx, checkpoints, func(shard string, recs []kinesis.Record, lastSeq string, millisBehind int64) error {
		if len(recs) == 0 {
			return nil // only a lag report
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// ... parse recs and insert their events through tx ...
		if _, err := tx.ExecContext(ctx, "UPDATE checkpoint SET seq = ? WHERE stream = ? AND shard = ?",
			lastSeq, s.Name(), shard); err != nil {
			return err
		}
		return tx.Commit()
	})
	if err != nil {
		log.Fatal(err)
	}
}
