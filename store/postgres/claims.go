package postgres

import (
	"context"
	"fmt"
	"time"
)

// Object claims let workers share objects without a coordinator (issue
// 14's workers; nothing calls them yet): a lister offers the objects it
// finds (OfferObjects), each worker claims a few at a time
// (ClaimObjects), reads them, and the writer's Commit of an object's
// record marks it done in the same transaction as its events. A claim
// is a lease on the database's clock: a worker renews its leases while
// it reads (RenewClaims), and the objects of a worker that stopped
// renewing are claimed by another once their lease has run out. Claims
// use FOR UPDATE SKIP LOCKED, so that claimers do not wait for each
// other and never get the same object.

// OfferObjects adds objects that may be claimed; objects offered before
// are left as they are.
func (s *DB) OfferObjects(ctx context.Context, uris []string) error {
	if len(uris) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO object_claims (uri) SELECT unnest($1::text[]) ON CONFLICT (uri) DO NOTHING`, uris)
	if err != nil {
		return fmt.Errorf("offer objects: %w", err)
	}
	return nil
}

// ClaimObjects claims for worker up to n objects that are not done and
// not leased (or whose lease has run out), in URI order, for lease, and
// returns them. Concurrent claimers get disjoint objects.
func (s *DB) ClaimObjects(ctx context.Context, worker string, n int, lease time.Duration) ([]string, error) {
	rows, err := s.pool.Query(ctx, `WITH c AS (
			SELECT uri FROM object_claims
			WHERE NOT done AND (lease_until IS NULL OR lease_until <= clock_timestamp())
			ORDER BY uri LIMIT $2 FOR UPDATE SKIP LOCKED)
		UPDATE object_claims o SET worker = $1, lease_until = clock_timestamp() + $3::interval
		FROM c WHERE o.uri = c.uri RETURNING o.uri`, worker, n, lease)
	if err != nil {
		return nil, fmt.Errorf("claim objects: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var uri string
		if err := rows.Scan(&uri); err != nil {
			return nil, fmt.Errorf("claim objects: %w", err)
		}
		out = append(out, uri)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim objects: %w", err)
	}
	return out, nil
}

// RenewClaims extends the leases worker still holds by lease from now,
// and returns how many it holds.
func (s *DB) RenewClaims(ctx context.Context, worker string, lease time.Duration) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE object_claims SET lease_until = clock_timestamp() + $2::interval
		WHERE worker = $1 AND NOT done AND lease_until > clock_timestamp()`, worker, lease)
	if err != nil {
		return 0, fmt.Errorf("renew claims: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
