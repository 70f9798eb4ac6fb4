package keystore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/llm-router/llm-router/pkg/keystore/sqldb"
)

// hub fans changes out to in-process watchers.
type hub struct {
	mu   sync.Mutex
	next int
	subs map[int]func(Change)
}

func (h *hub) subscribe(fn func(Change)) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = make(map[int]func(Change))
	}
	id := h.next
	h.next++
	h.subs[id] = fn
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, id)
	}
}

func (h *hub) publish(c Change) {
	h.mu.Lock()
	fns := make([]func(Change), 0, len(h.subs))
	for _, fn := range h.subs {
		fns = append(fns, fn)
	}
	h.mu.Unlock()
	for _, fn := range fns {
		fn(c)
	}
}

// notification is the NOTIFY payload: the key id and its hashes in hex. No secret is
// ever in it (hashes are of secrets, not secrets).
type notification struct {
	ID     string   `json:"id"`
	Hashes []string `json:"h"`
	// Origin is the sending store instance, which already told its own watchers.
	Origin string `json:"o,omitempty"`
}

func encodeChange(c Change, origin string) string {
	n := notification{ID: c.KeyID, Hashes: make([]string, len(c.Hashes)), Origin: origin}
	for i, h := range c.Hashes {
		n.Hashes[i] = hex.EncodeToString(h[:])
	}
	return jsonText(n)
}

func decodeChange(payload string) (Change, string, error) {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		return Change{}, "", fmt.Errorf("keystore: notification: %w", err)
	}
	c := Change{KeyID: n.ID}
	for _, h := range n.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			return Change{}, "", errors.New("keystore: notification: malformed hash")
		}
		c.Hashes = append(c.Hashes, [32]byte(b))
	}
	return c, n.Origin, nil
}

// notifyTx queues a NOTIFY in the transaction (PostgreSQL delivers it on commit only).
func (s *SQLStore) notifyTx(ctx context.Context, tx *sql.Tx, c Change) error {
	if s.db.Dialect != sqldb.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify($1, $2)", s.channel, encodeChange(c, s.origin)); err != nil {
		return fmt.Errorf("keystore: notify: %w", err)
	}
	return nil
}

// Watch implements Store.
func (s *SQLStore) Watch(ctx context.Context, fn func(Change)) error {
	unsubscribe := s.hub.subscribe(fn)
	defer unsubscribe()
	if s.db.Dialect != sqldb.Postgres {
		fn(Change{All: true})
		<-ctx.Done()
		return ctx.Err()
	}
	delay := s.retry
	for {
		err := s.listen(ctx, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("key change listener lost its connection; caches fall back to their TTL until it is back",
			zap.String("channel", s.channel), zap.Error(err), zap.Duration("retry_in", delay))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// listen holds one dedicated connection in LISTEN until it fails or ctx ends. Once the
// LISTEN is in place it reports All, because changes made while no one listened (at
// start or during a reconnect) were not heard.
func (s *SQLStore) listen(ctx context.Context, fn func(Change)) error {
	conn, err := s.db.ConnectPgx(ctx, s.listenerName())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fn(Change{All: true})
	for {
		wctx, cancel := context.WithTimeout(ctx, s.ping)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed() {
				// Idle: make sure the connection is still alive.
				if err := conn.Ping(ctx); err != nil {
					return fmt.Errorf("ping: %w", err)
				}
				continue
			}
			return err
		}
		c, origin, err := decodeChange(n.Payload)
		if err != nil {
			s.log.Error("malformed key change notification; dropping all cached keys", zap.Error(err))
			c = Change{All: true}
		}
		if origin == s.origin {
			continue // published in process at commit already
		}
		fn(c)
	}
}

// listenerName is the application_name of the LISTEN connection ("llm-router listen
// <channel>"), so operators can find it in pg_stat_activity.
func (s *SQLStore) listenerName() string {
	n := "llm-router listen " + s.channel
	if len(n) > 63 {
		n = n[:63]
	}
	return n
}
