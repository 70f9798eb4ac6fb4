package harness

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
)

// compileRegex compiles an Envoy RegexMatcher (RE2) for full-string matching, as Envoy's
// Regex::Utility::parseRegex(...)->match() does.
func compileRegex(m *matcherv3.RegexMatcher) (*regexp.Regexp, error) {
	if m == nil {
		return nil, nil
	}
	re, err := regexp.Compile("^(?:" + m.GetRegex() + ")$")
	if err != nil {
		return nil, fmt.Errorf("invalid regex %q: %w", m.GetRegex(), err)
	}
	return re, nil
}

// stringMatcher is a compiled envoy.type.matcher.v3.StringMatcher.
type stringMatcher func(string) bool

func compileStringMatcher(m *matcherv3.StringMatcher) (stringMatcher, error) {
	ic := m.GetIgnoreCase()
	norm := func(s string) string {
		if ic {
			return strings.ToLower(s)
		}
		return s
	}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		want := norm(p.Exact)
		return func(s string) bool { return norm(s) == want }, nil
	case *matcherv3.StringMatcher_Prefix:
		want := norm(p.Prefix)
		return func(s string) bool { return strings.HasPrefix(norm(s), want) }, nil
	case *matcherv3.StringMatcher_Suffix:
		want := norm(p.Suffix)
		return func(s string) bool { return strings.HasSuffix(norm(s), want) }, nil
	case *matcherv3.StringMatcher_Contains:
		want := norm(p.Contains)
		return func(s string) bool { return strings.Contains(norm(s), want) }, nil
	case *matcherv3.StringMatcher_SafeRegex:
		re, err := compileRegex(p.SafeRegex)
		if err != nil {
			return nil, err
		}
		return re.MatchString, nil
	default:
		return nil, fmt.Errorf("unsupported string matcher %T", p)
	}
}

func compileListMatcher(l *matcherv3.ListStringMatcher) ([]stringMatcher, error) {
	var out []stringMatcher
	for _, p := range l.GetPatterns() {
		m, err := compileStringMatcher(p)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func anyMatch(ms []stringMatcher, s string) bool {
	for _, m := range ms {
		if m(s) {
			return true
		}
	}
	return false
}

// headerMatcher is a compiled envoy.config.route.v3.HeaderMatcher.
type headerMatcher func(h hmap) bool

func compileHeaderMatcher(m *routev3.HeaderMatcher) (headerMatcher, error) {
	name := strings.ToLower(m.GetName())
	var match func(v string) bool
	switch p := m.GetHeaderMatchSpecifier().(type) {
	case nil:
		match = func(string) bool { return true }
	case *routev3.HeaderMatcher_ExactMatch:
		match = func(v string) bool { return v == p.ExactMatch } //nolint:staticcheck // SA1019: Envoy still honours this deprecated field, so the emulator must too.
	case *routev3.HeaderMatcher_PrefixMatch:
		match = func(v string) bool { return strings.HasPrefix(v, p.PrefixMatch) } //nolint:staticcheck // SA1019: Envoy still honours this deprecated field, so the emulator must too.
	case *routev3.HeaderMatcher_SuffixMatch:
		match = func(v string) bool { return strings.HasSuffix(v, p.SuffixMatch) } //nolint:staticcheck // SA1019: Envoy still honours this deprecated field, so the emulator must too.
	case *routev3.HeaderMatcher_ContainsMatch:
		match = func(v string) bool { return strings.Contains(v, p.ContainsMatch) } //nolint:staticcheck // SA1019: Envoy still honours this deprecated field, so the emulator must too.
	case *routev3.HeaderMatcher_PresentMatch:
		present := p.PresentMatch
		return func(h hmap) bool { return h.has(name) == present != m.GetInvertMatch() }, nil
	case *routev3.HeaderMatcher_SafeRegexMatch:
		re, err := compileRegex(p.SafeRegexMatch) //nolint:staticcheck // SA1019: Envoy still honours this deprecated field, so the emulator must too.
		if err != nil {
			return nil, err
		}
		match = re.MatchString
	case *routev3.HeaderMatcher_RangeMatch:
		start, end := p.RangeMatch.GetStart(), p.RangeMatch.GetEnd()
		match = func(v string) bool {
			n, err := strconv.ParseInt(v, 10, 64)
			return err == nil && n >= start && n < end
		}
	case *routev3.HeaderMatcher_StringMatch:
		sm, err := compileStringMatcher(p.StringMatch)
		if err != nil {
			return nil, err
		}
		match = sm
	default:
		return nil, fmt.Errorf("unsupported header matcher %T", p)
	}
	return func(h hmap) bool {
		v, ok := h.joined(name)
		if !ok {
			if !m.GetTreatMissingHeaderAsEmpty() {
				return false
			}
			v = ""
		}
		return match(v) != m.GetInvertMatch()
	}, nil
}
