package limits

import (
	"fmt"
	"time"
)

// gcra is the state of one GCRA limit: the theoretical arrival time tat (µs) plus a
// fraction of a microsecond in units of 1/limit. Taking n units of a limit of L per
// period P moves tat by n·P/L; carrying the remainder keeps L units in a full bucket
// exactly. The same arithmetic runs in the Redis scripts (admit.lua, settle.lua).
type gcra struct {
	tat, frac int64
}

// add returns the state after taking cost units (cost ≥ 0) at now.
func (g gcra) add(now, limit, cost int64) gcra {
	if g.tat < now {
		g = gcra{tat: now}
	}
	x := period*cost + g.frac
	g.tat += x / limit
	g.frac = x % limit
	return g
}

// sub returns the state after giving back cost units (cost ≥ 0) at now. A bucket
// never holds more than a full bucket: tat does not go below now.
func (g gcra) sub(now, limit, cost int64) gcra {
	if g.tat <= now {
		return gcra{tat: now}
	}
	x := period * cost
	q, r := x/limit, x%limit
	g.frac -= r
	if g.frac < 0 {
		g.frac += limit
		q++
	}
	g.tat -= q
	if g.tat < now {
		return gcra{tat: now}
	}
	return g
}

// adjust applies a signed cost.
func (g gcra) adjust(now, limit, delta int64) gcra {
	if delta >= 0 {
		return g.add(now, limit, delta)
	}
	return g.sub(now, limit, -delta)
}

// over reports whether the state exceeds a full bucket at now.
func (g gcra) over(now int64) bool {
	ahead := g.tat - now
	return ahead > period || (ahead == period && g.frac > 0)
}

// wait is how long (µs) until an over state fits.
func (g gcra) wait(now int64) int64 {
	w := g.tat - now - period
	if g.frac > 0 {
		w++
	}
	return max(w, 0)
}

// full reports whether nothing is taken at now.
func (g gcra) full(now int64) bool {
	return g.tat < now || (g.tat == now && g.frac == 0)
}

// remaining is how many units could be taken now.
func (g gcra) remaining(now, limit int64) int64 {
	if g.full(now) {
		return limit
	}
	head := now + period - g.tat // µs of headroom
	if head <= 0 {
		return 0
	}
	// head·L can reach 6e7 × 1.5e8 = 9e15: fits int64.
	return min((head*limit-g.frac)/period, limit)
}

// reset is how long (µs) until the bucket is full again.
func (g gcra) reset(now int64) int64 {
	if g.full(now) {
		return 0
	}
	d := g.tat - now
	if g.frac > 0 {
		d++
	}
	return d
}

// Budget periods.
const (
	periodTotal = iota
	periodDay
	periodMonth
)

func parsePeriod(s string) (int, error) {
	switch s {
	case "", "total":
		return periodTotal, nil
	case "day", "daily":
		return periodDay, nil
	case "month", "monthly":
		return periodMonth, nil
	}
	return 0, fmt.Errorf("unknown budget period %q (want day, month or total)", s)
}

// periodOf returns the id of the calendar period (UTC) holding now (µs) and when it
// ends (µs; 0 for total).
func periodOf(kind int, now int64) (id, end int64) {
	const day = int64(24 * time.Hour / time.Microsecond)
	switch kind {
	case periodDay:
		id = now / day
		return id, (id + 1) * day
	case periodMonth:
		t := time.UnixMicro(now).UTC()
		y, m, _ := t.Date()
		next := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
		return int64(y)*12 + int64(m) - 1, next.UnixMicro()
	}
	return 0, 0
}

// nanoUSD converts dollars to integer nano-dollars (the ledger's unit), so sums are
// exact in memory and in Redis.
func nanoUSD(usd float64) int64 {
	if usd <= 0 {
		return 0
	}
	if usd > 9e9 { // beyond int64 nano-dollars
		return 9e18
	}
	return int64(usd*1e9 + 0.5)
}

// formatReset renders a duration the way OpenAI's reset headers do ("1s", "6m0s",
// "20ms"), rounded up to the millisecond.
func formatReset(us int64) string {
	d := time.Duration(us) * time.Microsecond
	if r := d % time.Millisecond; r != 0 {
		d += time.Millisecond - r
	}
	return d.String()
}
