package tokens

import (
	"hash/maphash"
	"sync"
)

// countCache remembers the token counts of long texts. Chat clients resend the whole
// conversation every turn, so the same messages are counted again and again; a
// cache hit costs a hash of the text instead of a tokenizer run (roughly 100× less).
//
// Keys are 64-bit hashes of (encoding, text) with a per-process random seed; a
// collision would only skew one estimate. Each shard holds two generations: when
// the current one fills up, it becomes the old one and the previous old one is
// dropped, which keeps recently used entries without per-entry bookkeeping.
type countCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards = 16
	// cacheShardSize bounds each generation of a shard: 16 × 2 × 4096 entries of
	// 12 bytes plus map overhead is about 2 MiB at most.
	cacheShardSize = 4096
	// minCachedLen is the shortest text worth caching; shorter texts tokenize in
	// about the time a cache lookup takes.
	minCachedLen = 256
)

type cacheShard struct {
	mu       sync.Mutex
	cur, old map[uint64]int32
}

func newCountCache() *countCache {
	return &countCache{seed: maphash.MakeSeed()}
}

func (c *countCache) key(enc Encoding, s string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	_, _ = h.WriteString(string(enc))
	_ = h.WriteByte(0)
	_, _ = h.WriteString(s)
	return h.Sum64()
}

func (c *countCache) get(k uint64) (int, bool) {
	sh := &c.shards[k%cacheShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if n, ok := sh.cur[k]; ok {
		return int(n), true
	}
	if n, ok := sh.old[k]; ok {
		sh.putLocked(k, n) // promote, so it survives the next rotation
		return int(n), true
	}
	return 0, false
}

func (c *countCache) put(k uint64, n int) {
	sh := &c.shards[k%cacheShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.putLocked(k, int32(min(n, 1<<31-1)))
}

func (sh *cacheShard) putLocked(k uint64, n int32) {
	if sh.cur == nil {
		sh.cur = make(map[uint64]int32, cacheShardSize)
	}
	if len(sh.cur) >= cacheShardSize {
		sh.old, sh.cur = sh.cur, make(map[uint64]int32, cacheShardSize)
	}
	sh.cur[k] = n
}
