package harness

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/config/accesslog/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// lrContext is the stream information a local reply mapper and body formatter can see.
type lrContext struct {
	reqHeaders   hmap
	respHeaders  hmap
	code         int
	details      string
	flags        []string
	body         string
	meta         map[string]*structpb.Struct
	routeName    string
	cluster      string
	upstreamHost string
	duration     time.Duration
}

type lrFilter func(*lrContext) bool

type lrMapper struct {
	filter  lrFilter
	status  int
	body    *string
	format  *bodyFormatter
	headers []*corev3.HeaderValueOption
}

type localReplyConfig struct {
	mappers []*lrMapper
	format  *bodyFormatter
}

func compileLocalReply(c *hcmv3.LocalReplyConfig) (*localReplyConfig, error) {
	lr := &localReplyConfig{}
	if c == nil {
		return lr, nil
	}
	if err := c.ValidateAll(); err != nil {
		return nil, err
	}
	for i, m := range c.GetMappers() {
		f, err := compileLRFilter(m.GetFilter())
		if err != nil {
			return nil, fmt.Errorf("mapper %d: %w", i, err)
		}
		cm := &lrMapper{filter: f, status: int(m.GetStatusCode().GetValue()), headers: m.GetHeadersToAdd()}
		if m.GetBody() != nil {
			b, err := dataSource(m.GetBody())
			if err != nil {
				return nil, fmt.Errorf("mapper %d: %w", i, err)
			}
			cm.body = &b
		}
		if m.GetBodyFormatOverride() != nil {
			if cm.format, err = compileBodyFormat(m.GetBodyFormatOverride()); err != nil {
				return nil, fmt.Errorf("mapper %d: %w", i, err)
			}
		}
		lr.mappers = append(lr.mappers, cm)
	}
	if c.GetBodyFormat() != nil {
		var err error
		if lr.format, err = compileBodyFormat(c.GetBodyFormat()); err != nil {
			return nil, err
		}
	}
	return lr, nil
}

func dataSource(d *corev3.DataSource) (string, error) {
	switch s := d.GetSpecifier().(type) {
	case *corev3.DataSource_InlineString:
		return s.InlineString, nil
	case *corev3.DataSource_InlineBytes:
		return string(s.InlineBytes), nil
	}
	return "", fmt.Errorf("data source %T: %w", d.GetSpecifier(), ErrNotEmulated)
}

func compileLRFilter(f *accesslogv3.AccessLogFilter) (lrFilter, error) {
	switch s := f.GetFilterSpecifier().(type) {
	case *accesslogv3.AccessLogFilter_StatusCodeFilter:
		cmp := s.StatusCodeFilter.GetComparison()
		return func(c *lrContext) bool { return compare(cmp, uint64(c.code)) }, nil
	case *accesslogv3.AccessLogFilter_DurationFilter:
		cmp := s.DurationFilter.GetComparison()
		return func(c *lrContext) bool { return compare(cmp, uint64(c.duration.Milliseconds())) }, nil
	case *accesslogv3.AccessLogFilter_NotHealthCheckFilter:
		return func(*lrContext) bool { return true }, nil
	case *accesslogv3.AccessLogFilter_HeaderFilter:
		hm, err := compileHeaderMatcher(s.HeaderFilter.GetHeader())
		if err != nil {
			return nil, err
		}
		return func(c *lrContext) bool { return hm(c.reqHeaders) }, nil
	case *accesslogv3.AccessLogFilter_ResponseFlagFilter:
		want := s.ResponseFlagFilter.GetFlags()
		return func(c *lrContext) bool {
			if len(want) == 0 {
				return len(c.flags) > 0
			}
			for _, w := range want {
				for _, f := range c.flags {
					if w == f {
						return true
					}
				}
			}
			return false
		}, nil
	case *accesslogv3.AccessLogFilter_AndFilter, *accesslogv3.AccessLogFilter_OrFilter:
		var subs []*accesslogv3.AccessLogFilter
		and := false
		if a, ok := s.(*accesslogv3.AccessLogFilter_AndFilter); ok {
			subs, and = a.AndFilter.GetFilters(), true
		} else {
			subs = s.(*accesslogv3.AccessLogFilter_OrFilter).OrFilter.GetFilters()
		}
		var fs []lrFilter
		for _, sub := range subs {
			cf, err := compileLRFilter(sub)
			if err != nil {
				return nil, err
			}
			fs = append(fs, cf)
		}
		return func(c *lrContext) bool {
			for _, f := range fs {
				if f(c) != and {
					return !and
				}
			}
			return and
		}, nil
	}
	return nil, fmt.Errorf("access log filter %T: %w", f.GetFilterSpecifier(), ErrNotEmulated)
}

func compare(cmp *accesslogv3.ComparisonFilter, v uint64) bool {
	want := uint64(cmp.GetValue().GetDefaultValue())
	switch cmp.GetOp() {
	case accesslogv3.ComparisonFilter_GE:
		return v >= want
	case accesslogv3.ComparisonFilter_LE:
		return v <= want
	case accesslogv3.ComparisonFilter_NE:
		return v != want
	default:
		return v == want
	}
}

// rewrite is LocalReplyImpl::rewrite: the first matching mapper may override the status, the
// body and add headers; then its body_format_override or the top-level body_format (or
// "%LOCAL_REPLY_BODY%" as text/plain) formats the body. It reports the content type and
// whether an explicit body format was used.
func (lr *localReplyConfig) rewrite(c *lrContext, h *hmap) (body, contentType string, explicit bool) {
	var fmtr *bodyFormatter
	for _, m := range lr.mappers {
		if !m.filter(c) {
			continue
		}
		if m.body != nil {
			c.body = *m.body
		}
		for _, hv := range m.headers {
			k := strings.ToLower(hv.GetHeader().GetKey())
			v := hv.GetHeader().GetValue()
			if len(hv.GetHeader().GetRawValue()) > 0 {
				v = string(hv.GetHeader().GetRawValue())
			}
			applyHeaderValueOption(h, hv, k, v)
		}
		if m.status != 0 && m.status != c.code {
			c.code = m.status
			h.set(":status", strconv.Itoa(c.code))
		}
		fmtr = m.format
		break
	}
	if fmtr == nil {
		fmtr = lr.format
	}
	if fmtr == nil {
		return c.body, "text/plain", false
	}
	c.respHeaders = *h
	return fmtr.format(c), fmtr.contentType, true
}

// fmtPart is one piece of a substitution format string: a literal or a %COMMAND(arg):Z%.
type fmtPart struct {
	lit    string
	cmd    string
	arg    string
	maxLen int
}

type bodyFormatter struct {
	text        []fmtPart
	json        *structpb.Struct
	omitEmpty   bool
	contentType string
}

var knownCommands = map[string]bool{"LOCAL_REPLY_BODY": true, "RESPONSE_CODE": true, "RESPONSE_CODE_DETAILS": true,
	"REQ": true, "RESP": true, "REQUEST_HEADER": true, "RESPONSE_HEADER": true, "PROTOCOL": true, "RESPONSE_FLAGS": true,
	"DYNAMIC_METADATA": true, "UPSTREAM_HOST": true, "ROUTE_NAME": true, "UPSTREAM_CLUSTER": true, "DURATION": true}

func compileBodyFormat(s *corev3.SubstitutionFormatString) (*bodyFormatter, error) {
	if len(s.GetFormatters()) > 0 {
		return nil, fmt.Errorf("substitution formatters extensions: %w", ErrNotEmulated)
	}
	bf := &bodyFormatter{omitEmpty: s.GetOmitEmptyValues(), contentType: s.GetContentType()}
	var err error
	switch f := s.GetFormat().(type) {
	case *corev3.SubstitutionFormatString_TextFormat:
		bf.text, err = parseFormat(f.TextFormat) //nolint:staticcheck // SA1019: Envoy still honours this deprecated field, so the emulator must too.
	case *corev3.SubstitutionFormatString_TextFormatSource:
		var src string
		if src, err = dataSource(f.TextFormatSource); err == nil {
			bf.text, err = parseFormat(src)
		}
	case *corev3.SubstitutionFormatString_JsonFormat:
		bf.json = f.JsonFormat
		err = checkJSONFormat(structpb.NewStructValue(f.JsonFormat))
		if bf.contentType == "" {
			bf.contentType = "application/json"
		}
	}
	if err != nil {
		return nil, err
	}
	if bf.contentType == "" {
		bf.contentType = "text/plain"
	}
	return bf, nil
}

func checkJSONFormat(v *structpb.Value) error {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		_, err := parseFormat(k.StringValue)
		return err
	case *structpb.Value_StructValue:
		for _, fv := range k.StructValue.GetFields() {
			if err := checkJSONFormat(fv); err != nil {
				return err
			}
		}
	case *structpb.Value_ListValue:
		for _, lv := range k.ListValue.GetValues() {
			if err := checkJSONFormat(lv); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseFormat parses Envoy's substitution format syntax.
func parseFormat(s string) ([]fmtPart, error) {
	var parts []fmtPart
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '%')
		if end < 0 {
			return nil, fmt.Errorf("format %q: unterminated command", s)
		}
		tok := s[i+1 : i+1+end]
		i += end + 1
		p := fmtPart{}
		if j := strings.LastIndex(tok, "):"); j >= 0 {
			n, err := strconv.Atoi(tok[j+2:])
			if err != nil {
				return nil, fmt.Errorf("format %q: bad length in %q", s, tok)
			}
			p.maxLen, tok = n, tok[:j+1]
		} else if j := strings.IndexByte(tok, ':'); j >= 0 && !strings.Contains(tok, "(") {
			n, err := strconv.Atoi(tok[j+1:])
			if err != nil {
				return nil, fmt.Errorf("format %q: bad length in %q", s, tok)
			}
			p.maxLen, tok = n, tok[:j]
		}
		if j := strings.IndexByte(tok, '('); j >= 0 {
			if !strings.HasSuffix(tok, ")") {
				return nil, fmt.Errorf("format %q: bad command %q", s, tok)
			}
			p.cmd, p.arg = tok[:j], tok[j+1:len(tok)-1]
		} else {
			p.cmd = tok
		}
		if !knownCommands[p.cmd] {
			return nil, fmt.Errorf("format %q: command %s: %w", s, p.cmd, ErrNotEmulated)
		}
		if lit.Len() > 0 {
			parts = append(parts, fmtPart{lit: lit.String()})
			lit.Reset()
		}
		parts = append(parts, p)
	}
	if lit.Len() > 0 {
		parts = append(parts, fmtPart{lit: lit.String()})
	}
	return parts, nil
}

// value evaluates one command; nil means "no value".
func (p fmtPart) value(c *lrContext) any {
	hdrVal := func(h hmap) any {
		for _, k := range strings.Split(p.arg, "?") {
			if v, ok := h.get(strings.ToLower(strings.TrimSpace(k))); ok {
				return v
			}
		}
		return nil
	}
	switch p.cmd {
	case "LOCAL_REPLY_BODY":
		return c.body
	case "RESPONSE_CODE":
		return int64(c.code)
	case "RESPONSE_CODE_DETAILS":
		return nonEmpty(c.details)
	case "REQ", "REQUEST_HEADER":
		return hdrVal(c.reqHeaders)
	case "RESP", "RESPONSE_HEADER":
		return hdrVal(c.respHeaders)
	case "PROTOCOL":
		return "HTTP/1.1"
	case "RESPONSE_FLAGS":
		if len(c.flags) == 0 {
			return "-"
		}
		return strings.Join(c.flags, ",")
	case "UPSTREAM_HOST":
		return nonEmpty(c.upstreamHost)
	case "ROUTE_NAME":
		return nonEmpty(c.routeName)
	case "UPSTREAM_CLUSTER":
		return nonEmpty(c.cluster)
	case "DURATION":
		return c.duration.Milliseconds()
	case "DYNAMIC_METADATA":
		path := strings.Split(p.arg, ":")
		s := c.meta[path[0]]
		if s == nil {
			return nil
		}
		var cur any = s.AsMap()
		for _, k := range path[1:] {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			if cur, ok = m[k]; !ok {
				return nil
			}
		}
		return cur
	}
	return nil
}

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (p fmtPart) str(c *lrContext, omitEmpty bool) string {
	if p.cmd == "" {
		return p.lit
	}
	v := p.value(c)
	var s string
	switch x := v.(type) {
	case nil:
		if omitEmpty {
			return ""
		}
		return "-"
	case string:
		s = x
	case int64:
		s = strconv.FormatInt(x, 10)
	default:
		b, _ := json.Marshal(x)
		s = string(b)
	}
	if p.maxLen > 0 && len(s) > p.maxLen {
		s = s[:p.maxLen]
	}
	return s
}

func (bf *bodyFormatter) format(c *lrContext) string {
	if bf.json == nil {
		var b strings.Builder
		for _, p := range bf.text {
			b.WriteString(p.str(c, bf.omitEmpty))
		}
		return b.String()
	}
	out := bf.jsonValue(structpb.NewStructValue(bf.json), c)
	b, err := json.Marshal(out)
	if err != nil {
		b, _ = protojson.Marshal(bf.json)
	}
	return string(b) + "\n"
}

func (bf *bodyFormatter) jsonValue(v *structpb.Value, c *lrContext) any {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StringValue:
		parts, _ := parseFormat(k.StringValue)
		if len(parts) == 1 && parts[0].cmd != "" {
			val := parts[0].value(c)
			if s, ok := val.(string); ok && parts[0].maxLen > 0 && len(s) > parts[0].maxLen {
				val = s[:parts[0].maxLen]
			}
			return val
		}
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(p.str(c, bf.omitEmpty))
		}
		return b.String()
	case *structpb.Value_StructValue:
		m := map[string]any{}
		keys := make([]string, 0, len(k.StructValue.GetFields()))
		for key := range k.StructValue.GetFields() {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			val := bf.jsonValue(k.StructValue.GetFields()[key], c)
			if bf.omitEmpty && (val == nil || val == "") {
				continue
			}
			m[key] = val
		}
		return m
	case *structpb.Value_ListValue:
		var out []any
		for _, lv := range k.ListValue.GetValues() {
			out = append(out, bf.jsonValue(lv, c))
		}
		return out
	}
	return v.AsInterface()
}

// applyHeaderValueOption applies one headers_to_add entry with Envoy's append semantics: the
// deprecated append BoolValue wins when set, otherwise append_action (default
// APPEND_IF_EXISTS_OR_ADD).
func applyHeaderValueOption(h *hmap, hv *corev3.HeaderValueOption, k, v string) {
	if a := hv.GetAppend(); a != nil { //nolint:staticcheck // SA1019: Envoy still honours this deprecated field, so the emulator must too.
		if a.GetValue() {
			h.add(k, v)
		} else {
			h.set(k, v)
		}
		return
	}
	switch hv.GetAppendAction() {
	case corev3.HeaderValueOption_ADD_IF_ABSENT:
		if !h.has(k) {
			h.add(k, v)
		}
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
		h.set(k, v)
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
		if h.has(k) {
			h.set(k, v)
		}
	default:
		h.add(k, v)
	}
}
