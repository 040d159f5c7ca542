package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// backstopCheckpointPages is the writer's automatic checkpoint threshold
// while a Checkpointer runs: ten times SQLite's default, reached only if
// the Checkpointer falls behind or fails.
const backstopCheckpointPages = 10000

// A Checkpointer copies a database's WAL into the database file from a
// connection of its own, an interval after the writer said it committed
// (Kick), so that the writer's commits do not: by default SQLite makes the
// commit that takes the WAL past 1000 pages copy them all and sync the
// file, while every other writer waits. With nothing committed it does not
// wake. For a server that takes batches one after another (the reference
// upstream); the kiosk checkpoints when it is idle.
type Checkpointer struct {
	conn     *sql.DB
	kick     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup

	mu      sync.Mutex
	lastErr error
}

// StartCheckpointer starts checkpointing the WAL of db, whose file is
// file, interval after a Kick. The writer's own checkpoints are put off to
// backstopCheckpointPages. Stop it before closing db.
func StartCheckpointer(ctx context.Context, file string, db *DB, interval time.Duration) (*Checkpointer, error) {
	file, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	if _, err := db.W.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", backstopCheckpointPages)); err != nil {
		return nil, fmt.Errorf("checkpointer: %w", err)
	}
	q := url.Values{"_busy_timeout": {"5000"}}
	conn := sql.OpenDB(connector{drv: &sqlite3.SQLiteDriver{}, dsn: fileURI(file, q)})
	conn.SetMaxOpenConns(1)
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("checkpointer: %w", err)
	}
	c := &Checkpointer{conn: conn, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	c.done.Go(func() {
		for {
			select {
			case <-c.stop:
				return
			case <-c.kick:
			}
			// Let the commits of an interval gather in the WAL.
			t := time.NewTimer(interval)
			select {
			case <-c.stop:
				t.Stop()
				return
			case <-t.C:
			}
			// PASSIVE: copy what no reader still needs, without
			// waiting for anyone; the writer goes on meanwhile.
			_, err := c.conn.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
		}
	})
	return c, nil
}

// Kick tells the Checkpointer the writer committed; it never blocks.
func (c *Checkpointer) Kick() {
	select {
	case c.kick <- struct{}{}:
	default: // a checkpoint is due already
	}
}

// err returns the error of the last checkpoint, nil if it succeeded.
func (c *Checkpointer) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Stop stops the checkpoints, waits for the one under way and closes the
// connection. It may be called more than once.
func (c *Checkpointer) Stop() error {
	c.stopOnce.Do(func() { close(c.stop) })
	c.done.Wait()
	return errors.Join(c.err(), c.conn.Close())
}
