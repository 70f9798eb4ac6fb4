package harness

import (
	"net/http"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// hdr is one header entry. Keys are lower-case; values are raw bytes held in a string.
type hdr struct{ k, v string }

// hmap is an ordered, multi-valued header map with Envoy's semantics: lower-case keys and
// pseudo-headers (":method", ":path", …) kept in front of ordinary headers.
type hmap []hdr

func (m hmap) get(k string) (string, bool) {
	for _, e := range m {
		if e.k == k {
			return e.v, true
		}
	}
	return "", false
}

// joined returns all values of k joined with ',' (how Envoy matches multi-valued headers).
func (m hmap) joined(k string) (string, bool) {
	var vals []string
	for _, e := range m {
		if e.k == k {
			vals = append(vals, e.v)
		}
	}
	if len(vals) == 0 {
		return "", false
	}
	return strings.Join(vals, ","), true
}

func (m hmap) has(k string) bool { _, ok := m.get(k); return ok }

// add appends a value (Envoy addCopy). New pseudo-headers go after the existing ones.
func (m *hmap) add(k, v string) {
	if strings.HasPrefix(k, ":") {
		i := 0
		for i < len(*m) && strings.HasPrefix((*m)[i].k, ":") {
			i++
		}
		*m = append(*m, hdr{})
		copy((*m)[i+1:], (*m)[i:])
		(*m)[i] = hdr{k, v}
		return
	}
	*m = append(*m, hdr{k, v})
}

// set replaces every value of k by v (Envoy setCopy), keeping the position of the first one.
func (m *hmap) set(k, v string) {
	out := (*m)[:0]
	done := false
	for _, e := range *m {
		if e.k == k {
			if !done {
				out = append(out, hdr{k, v})
				done = true
			}
			continue
		}
		out = append(out, e)
	}
	*m = out
	if !done {
		m.add(k, v)
	}
}

// del removes every value of k and reports whether anything was removed.
func (m *hmap) del(k string) bool {
	out := (*m)[:0]
	removed := false
	for _, e := range *m {
		if e.k == k {
			removed = true
			continue
		}
		out = append(out, e)
	}
	*m = out
	return removed
}

func (m hmap) clone() hmap {
	if m == nil {
		return nil
	}
	return append(hmap(nil), m...)
}

// byteSize is Envoy's HeaderMap::byteSize: the sum of key and value lengths.
func (m hmap) byteSize() int {
	n := 0
	for _, e := range m {
		n += len(e.k) + len(e.v)
	}
	return n
}

// toProto converts to the ext_proc wire form: lower-case keys, the value byte-for-byte in
// raw_value, value left empty (item 4). keep filters by forward_rules (item 5).
func (m hmap) toProto(keep func(string) bool) *corev3.HeaderMap {
	out := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(m))}
	for _, e := range m {
		if keep != nil && !keep(e.k) {
			continue
		}
		out.Headers = append(out.Headers, &corev3.HeaderValue{Key: e.k, RawValue: []byte(e.v)})
	}
	return out
}

// toHTTP converts to an http.Header. Pseudo-headers are kept (unchanged by canonicalisation)
// only when withPseudo is set.
func (m hmap) toHTTP(withPseudo bool) http.Header {
	h := make(http.Header, len(m))
	for _, e := range m {
		if strings.HasPrefix(e.k, ":") {
			if withPseudo {
				h[e.k] = append(h[e.k], e.v)
			}
			continue
		}
		h.Add(e.k, e.v)
	}
	return h
}

// fromHTTP appends the entries of h with lower-case keys in sorted key order (Go loses the
// wire order), dropping hop-by-hop headers.
func (m *hmap) fromHTTP(h http.Header) {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	drop := hopByHop(h)
	for _, k := range keys {
		lk := strings.ToLower(k)
		if drop[lk] {
			continue
		}
		for _, v := range h[k] {
			*m = append(*m, hdr{lk, v})
		}
	}
}

var hopHeaders = []string{"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}

// hopByHop returns the set of connection-specific headers Envoy's codecs strip: the fixed
// list plus every name listed in Connection.
func hopByHop(h http.Header) map[string]bool {
	drop := make(map[string]bool, len(hopHeaders)+2)
	for _, k := range hopHeaders {
		drop[k] = true
	}
	for _, v := range h.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(strings.ToLower(f)); f != "" {
				drop[f] = true
			}
		}
	}
	return drop
}

func isHopByHop(k string) bool {
	for _, h := range hopHeaders {
		if h == k {
			return true
		}
	}
	return false
}

// headerNameIsValid mirrors Envoy's HeaderUtility::headerNameIsValid: an RFC 7230 token,
// optionally prefixed by ':' for pseudo-headers.
func headerNameIsValid(k string) bool {
	k = strings.TrimPrefix(k, ":")
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenChar(k[i]) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// headerValueIsValid mirrors nghttp2_check_header_value: HTAB, SP..~ and obs-text only.
func headerValueIsValid(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\t' || (c >= 0x20 && c != 0x7f) {
			continue
		}
		return false
	}
	return true
}

// authorityIsValid is a close approximation of Envoy's HeaderUtility::authorityIsValid.
func authorityIsValid(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@[]%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// replaceAllEmptySpace is Envoy's StringUtil::replaceAllEmptySpace.
func replaceAllEmptySpace(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\f', '\v', '\n', '\r':
			return '_'
		}
		return r
	}, s)
}
