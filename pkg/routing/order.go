package routing

import "math"

// order is Order with split handling: promote (an index of cands, or -1) is moved to the
// front when it survives filtering, and candidates whose bit is set in demote sort after
// every other candidate (bits beyond 63 are ignored).
func (r *Router) order(strategy, model string, cands []Candidate, info Info, dst []int, promote int, demote uint64) []int {
	n := len(cands)
	if n == 0 {
		return dst
	}
	now := info.Now
	if now.IsZero() {
		now = r.clock()
	}
	nowN := now.UnixNano()
	need := info.EstimatedTokens + info.MaxOutputTokens

	var stBuf [maxStackCands]*backend
	var availBuf [maxStackCands]bool
	var scoreBuf [maxStackCands]float64
	var st []*backend
	var avail []bool
	var score []float64
	if n > maxStackCands {
		st, avail, score = make([]*backend, n), make([]bool, n), make([]float64, n)
	} else {
		st, avail, score = stBuf[:n], availBuf[:n], scoreBuf[:n]
	}

	base := len(dst)
	anyAvail := false
	for i := range cands {
		c := &cands[i]
		if need > 0 && c.ContextWindow > 0 && need > c.ContextWindow {
			continue
		}
		b := r.backend(c.Name)
		st[i] = b
		avail[i] = b.br.available(nowN)
		anyAvail = anyAvail || avail[i]
		dst = append(dst, i)
	}
	if anyAvail {
		k := base
		for _, i := range dst[base:] {
			if avail[i] {
				dst[k] = i
				k++
			}
		}
		dst = dst[:k]
	}
	list := dst[base:]
	if len(list) == 0 {
		return dst
	}

	// Priority first (stable: config order breaks ties), split targets last.
	key := func(i int) uint64 {
		k := uint64(cands[i].Priority)
		if i < 64 && demote&(1<<uint(i)) != 0 {
			k |= 1 << 32
		}
		return k
	}
	for a := 1; a < len(list); a++ {
		for b := a; b > 0 && key(list[b]) < key(list[b-1]); b-- {
			list[b], list[b-1] = list[b-1], list[b]
		}
	}

	var rr uint64
	if strategy == StrategyRoundRobin && len(list) > 1 {
		rr = r.counter(model).n.Add(1) - 1
	}
	for lo := 0; lo < len(list); {
		hi := lo + 1
		for hi < len(list) && key(list[hi]) == key(list[lo]) {
			hi++
		}
		if hi-lo > 1 {
			r.arrange(strategy, list[lo:hi], cands, st, score, info, rr)
		}
		lo = hi
	}

	if promote >= 0 {
		for p, i := range list {
			if i == promote {
				copy(list[1:p+1], list[:p])
				list[0] = promote
				break
			}
		}
	}

	// A half-open head takes a probe slot; if another request took the last one, the
	// head is skipped (unless it is the only candidate left).
	if anyAvail {
		if h := st[list[0]]; h.br.isHalfOpen() && !h.br.reserve(nowN) && len(list) > 1 {
			copy(list, list[1:])
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// arrange orders one priority group (len >= 2) in place by strategy.
func (r *Router) arrange(strategy string, g []int, cands []Candidate, st []*backend, score []float64, info Info, rr uint64) {
	switch strategy {
	case StrategyRoundRobin:
		rotate(g, int(rr%uint64(len(g))))
	case StrategyWeighted:
		weightedShuffle(g, cands)
	case StrategyLeastInflight:
		for _, i := range g {
			w := cands[i].Weight
			if w == 0 {
				w = 1
			}
			score[i] = float64(st[i].inflight.Load()+1) / float64(w)
		}
		rotate(g, int(randUint64()%uint64(len(g)))) // random tie-break
		sortByScore(g, score)
	case StrategyLowestLatency:
		for _, i := range g {
			if info.Stream {
				score[i] = st[i].ttft.value()
			} else {
				score[i] = st[i].dur.value()
			}
		}
		rotate(g, int(randUint64()%uint64(len(g))))
		sortByScore(g, score)
		if r.explore > 0 && float64(randUint64()>>11)/(1<<53) < r.explore {
			j := 1 + int(randUint64()%uint64(len(g)-1))
			moveToFront(g, j)
		}
	case StrategyLowestCost:
		in := float64(info.EstimatedTokens)
		if in <= 0 {
			in = 1
		}
		out := float64(info.MaxOutputTokens)
		if out <= 0 {
			out = in
		}
		for _, i := range g {
			c := &cands[i]
			s := c.InputPricePerMTok*in + c.OutputPricePerMTok*out
			if math.IsNaN(s) {
				s = math.Inf(1)
			}
			score[i] = s
		}
		rotate(g, int(randUint64()%uint64(len(g))))
		sortByScore(g, score)
	}
}

// weightedShuffle draws g's order by weight without replacement; zero-weight candidates
// stay last in their current order.
func weightedShuffle(g []int, cands []Candidate) {
	for pos := 0; pos < len(g)-1; pos++ {
		var total uint64
		for _, i := range g[pos:] {
			total += uint64(cands[i].Weight)
		}
		if total == 0 {
			return
		}
		x := randUint64() % total
		for j := pos; j < len(g); j++ {
			w := uint64(cands[g[j]].Weight)
			if x < w {
				moveToFront(g[pos:], j-pos)
				break
			}
			x -= w
		}
	}
}

// moveToFront moves g[j] to g[0], shifting g[:j] right and keeping their order.
func moveToFront(g []int, j int) {
	v := g[j]
	copy(g[1:j+1], g[:j])
	g[0] = v
}

// rotate rotates g left by k.
func rotate(g []int, k int) {
	if k == 0 {
		return
	}
	reverse(g[:k])
	reverse(g[k:])
	reverse(g)
}

func reverse(g []int) {
	for i, j := 0, len(g)-1; i < j; i, j = i+1, j-1 {
		g[i], g[j] = g[j], g[i]
	}
}

// sortByScore stable-sorts g by ascending score (insertion sort: groups are small).
func sortByScore(g []int, score []float64) {
	for a := 1; a < len(g); a++ {
		for b := a; b > 0 && score[g[b]] < score[g[b-1]]; b-- {
			g[b], g[b-1] = g[b-1], g[b]
		}
	}
}
