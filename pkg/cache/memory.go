package cache

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// entryOverhead approximates the memory an entry costs besides its strings and body:
// the list node, the Entry struct, the map slot and allocator rounding.
const entryOverhead = 256

// MemoryOptions configure a Memory cache. Zero values select the defaults.
type MemoryOptions struct {
	// MaxBytes bounds the approximate memory held by entries (keys, bodies, strings and
	// a fixed per-entry overhead). Default 64 MiB.
	MaxBytes int64
	// MaxEntryBytes rejects larger entries (ErrTooLarge), so one huge response cannot
	// flush the cache. Default MaxBytes/8.
	MaxEntryBytes int64
	// DefaultTTL applies when Set gets ttl <= 0. Default 1h.
	DefaultTTL time.Duration
	// Clock returns the current time (tests inject a fake). Default time.Now.
	Clock func() time.Time
	// Metrics receives this store's series (label cache="memory"); nil records nothing.
	Metrics *Metrics
}

// Memory is an in-process LRU cache bounded by bytes, with a TTL per entry. Expired
// entries are dropped when read, and reclaimed from the cold end when storing.
type Memory struct {
	maxBytes, maxEntry int64
	defaultTTL         time.Duration
	now                func() time.Time
	m                  storeMetrics

	mu    sync.Mutex
	items map[string]*node
	root  node // sentinel: root.next is the most recently used, root.prev the least
	bytes int64
}

type node struct {
	key        string
	e          *Entry
	expires    int64 // unix ns
	size       int64
	prev, next *node
}

// NewMemory returns an empty Memory cache.
func NewMemory(opts MemoryOptions) *Memory {
	c := &Memory{maxBytes: opts.MaxBytes, maxEntry: opts.MaxEntryBytes, defaultTTL: opts.DefaultTTL, now: opts.Clock, m: opts.Metrics.forStore("memory"), items: map[string]*node{}}
	if c.maxBytes <= 0 {
		c.maxBytes = 64 << 20
	}
	if c.maxEntry <= 0 || c.maxEntry > c.maxBytes {
		c.maxEntry = c.maxBytes / 8
	}
	if c.defaultTTL <= 0 {
		c.defaultTTL = time.Hour
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

func entrySize(key string, e *Entry) int64 {
	return int64(len(key)+len(e.Body)+len(e.ContentType)+len(e.Model)) + entryOverhead
}

// Get returns the entry under key if present and not expired. The entry is shared: do
// not modify it.
func (c *Memory) Get(_ context.Context, key string) (*Entry, bool, error) {
	now := c.now().UnixNano()
	c.mu.Lock()
	n, ok := c.items[key]
	if !ok {
		c.mu.Unlock()
		inc(c.m.misses)
		return nil, false, nil
	}
	if now >= n.expires {
		c.removeLocked(n)
		c.gaugesLocked()
		c.mu.Unlock()
		inc(c.m.evictExpired)
		inc(c.m.misses)
		return nil, false, nil
	}
	c.unlinkLocked(n)
	c.pushFrontLocked(n)
	e := n.e
	c.mu.Unlock()
	inc(c.m.hits)
	return e, true, nil
}

// Set stores a copy of e under key for ttl (ttl <= 0: the default TTL), evicting the
// least recently used entries while the cache is over MaxBytes.
func (c *Memory) Set(_ context.Context, key string, e *Entry, ttl time.Duration) error {
	if e == nil {
		return fmt.Errorf("cache: nil entry")
	}
	size := entrySize(key, e)
	if size > c.maxEntry {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, c.maxEntry)
	}
	if ttl <= 0 {
		ttl = c.defaultTTL
	}
	now := c.now()
	cp := *e
	cp.Body = append([]byte(nil), e.Body...)
	if cp.CreatedAt.IsZero() {
		cp.CreatedAt = now
	}
	n := &node{key: key, e: &cp, expires: now.Add(ttl).UnixNano(), size: size}

	var evictedSize, evictedExpired int
	c.mu.Lock()
	if old, ok := c.items[key]; ok {
		c.removeLocked(old)
	}
	c.items[key] = n
	c.pushFrontLocked(n)
	c.bytes += size
	// Reclaim expired entries at the cold end first, then evict by recency.
	for c.root.prev != n && c.root.prev.expires <= now.UnixNano() {
		c.removeLocked(c.root.prev)
		evictedExpired++
	}
	for c.bytes > c.maxBytes && c.root.prev != n {
		c.removeLocked(c.root.prev)
		evictedSize++
	}
	c.gaugesLocked()
	c.mu.Unlock()

	inc(c.m.stores)
	for ; evictedSize > 0; evictedSize-- {
		inc(c.m.evictSize)
	}
	for ; evictedExpired > 0; evictedExpired-- {
		inc(c.m.evictExpired)
	}
	return nil
}

// Delete removes key; it reports whether it was present.
func (c *Memory) Delete(_ context.Context, key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.items[key]
	if ok {
		c.removeLocked(n)
		c.gaugesLocked()
	}
	return ok
}

// Len returns the number of entries (expired ones not yet reclaimed included).
func (c *Memory) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Bytes returns the approximate memory held by the entries.
func (c *Memory) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func (c *Memory) gaugesLocked() {
	setGauge(c.m.bytes, float64(c.bytes))
	setGauge(c.m.entries, float64(len(c.items)))
}

func (c *Memory) removeLocked(n *node) {
	c.unlinkLocked(n)
	delete(c.items, n.key)
	c.bytes -= n.size
}

func (c *Memory) unlinkLocked(n *node) {
	n.prev.next = n.next
	n.next.prev = n.prev
	n.prev, n.next = nil, nil
}

func (c *Memory) pushFrontLocked(n *node) {
	n.prev = &c.root
	n.next = c.root.next
	c.root.next.prev = n
	c.root.next = n
}
