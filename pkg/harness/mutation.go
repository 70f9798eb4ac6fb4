package harness

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	mutationrulesv3 "github.com/envoyproxy/go-control-plane/envoy/config/common/mutation_rules/v3"
	extprocsvc "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// Envoy's HCM defaults (common_http_protocol_options.max_headers_count and
// max_request_headers_kb / max_response_headers_kb), used by the item 44 checks.
const (
	defaultMaxHeadersCount = 100
	defaultMaxHeadersKB    = 60
)

type checkOp int

const (
	opSet checkOp = iota
	opAppend
	opRemove
)

type checkResult int

const (
	checkOK checkResult = iota
	checkIgnore
	checkFail
)

// mutationChecker implements Envoy's Filters::Common::MutationRules::Checker (items 37–40).
type mutationChecker struct {
	allowAllRouting, allowEnvoy, disallowSystem, disallowAll, disallowIsError bool
	allowExpr, disallowExpr                                                   *regexp.Regexp
}

func newMutationChecker(r *mutationrulesv3.HeaderMutationRules) (*mutationChecker, error) {
	c := &mutationChecker{
		allowAllRouting: r.GetAllowAllRouting().GetValue(),
		allowEnvoy:      r.GetAllowEnvoy().GetValue(),
		disallowSystem:  r.GetDisallowSystem().GetValue(),
		disallowAll:     r.GetDisallowAll().GetValue(),
		disallowIsError: r.GetDisallowIsError().GetValue(),
	}
	var err error
	if c.allowExpr, err = compileRegex(r.GetAllowExpression()); err != nil {
		return nil, err
	}
	if c.disallowExpr, err = compileRegex(r.GetDisallowExpression()); err != nil {
		return nil, err
	}
	return c, nil
}

func isRoutingHeader(k string) bool {
	return k == "host" || k == ":authority" || k == ":method" || k == ":scheme"
}

// isAllowed evaluates the rules in Envoy's order; the first match decides (item 38).
func (c *mutationChecker) isAllowed(op checkOp, k string) bool {
	if op == opRemove && (strings.HasPrefix(k, ":") || k == "host") {
		return false
	}
	if c.disallowExpr != nil && c.disallowExpr.MatchString(k) {
		return false
	}
	if c.allowExpr != nil && c.allowExpr.MatchString(k) {
		return true
	}
	if c.disallowAll {
		return false
	}
	if !c.allowAllRouting && isRoutingHeader(k) {
		return false
	}
	if strings.HasPrefix(k, ":") && (op == opAppend || c.disallowSystem) {
		return false
	}
	if !c.allowEnvoy && strings.HasPrefix(k, "x-envoy") {
		return false
	}
	return true
}

// isValidValue checks the value of an otherwise allowed SET (item 39).
func isValidValue(k, v string) bool {
	switch k {
	case ":status":
		n, err := strconv.ParseUint(v, 10, 32)
		return err == nil && n >= 200
	case ":scheme":
		return v == "http" || v == "https"
	case "host", ":authority":
		return authorityIsValid(v)
	}
	if strings.HasPrefix(k, ":") {
		return true
	}
	return headerValueIsValid(v)
}

func (c *mutationChecker) check(op checkOp, k, v string) checkResult {
	if c.isAllowed(op, k) && (op == opRemove || isValidValue(k, v)) {
		return checkOK
	}
	if c.disallowIsError {
		return checkFail
	}
	return checkIgnore
}

// mutationError is a processing error that ends in a status_on_error local reply.
type mutationError struct{ msg string }

func (e *mutationError) Error() string { return e.msg }

// applyHeaderMutations is MutationUtils::applyHeaderMutations: size check, removes, then sets
// in list order, then the result check (items 33–44). replacing enables the CONTINUE_AND_REPLACE
// :method exemption (item 43); dropContentLength silently drops content-length sets (item 75).
// rejected is called once per refused entry (rejected_header_mutations).
func applyHeaderMutations(mut *extprocsvc.HeaderMutation, h *hmap, replacing, dropContentLength bool,
	c *mutationChecker, rejected func()) error {
	if len(mut.GetRemoveHeaders()) > defaultMaxHeadersCount || len(mut.GetSetHeaders()) > defaultMaxHeadersCount {
		rejected()
		return &mutationError{fmt.Sprintf("Header mutation remove header count %d or set header count %d exceed the HCM header countlimit %d",
			len(mut.GetRemoveHeaders()), len(mut.GetSetHeaders()), defaultMaxHeadersCount)}
	}
	for _, name := range mut.GetRemoveHeaders() {
		if !headerNameIsValid(name) {
			rejected()
			return &mutationError{"Invalid character in remove_headers mutation."}
		}
		k := strings.ToLower(name)
		switch c.check(opRemove, k, "") {
		case checkOK:
			h.del(k)
		case checkIgnore:
			rejected()
		case checkFail:
			rejected()
			return &mutationError{"Invalid attempt to remove " + k}
		}
	}
	for _, sh := range mut.GetSetHeaders() {
		hv := sh.GetHeader()
		if hv == nil {
			continue
		}
		if hv.GetValue() != "" && len(hv.GetRawValue()) > 0 {
			rejected()
			return &mutationError{"Only one of value or raw_value in the HeaderValue message should be set."}
		}
		// Only raw_value is read (item 35): a value-only entry sets an empty header.
		val := string(hv.GetRawValue())
		if !headerNameIsValid(hv.GetKey()) || !headerValueIsValid(val) {
			rejected()
			return &mutationError{"Invalid character in set_headers mutation."}
		}
		k := strings.ToLower(hv.GetKey())
		if dropContentLength && k == "content-length" {
			continue
		}
		// append_action is ignored (item 34): Envoy's ext_proc reads only the deprecated append.
		appendMode := sh.GetAppend().GetValue() //nolint:staticcheck // SA1019: see above; the emulator must match Envoy.
		op := opSet
		if appendMode && h.has(k) {
			op = opAppend
		}
		res := c.check(op, k, val)
		if replacing && k == ":method" {
			res = checkOK
		}
		switch res {
		case checkOK:
			if appendMode {
				h.add(k, val)
			} else {
				h.set(k, val)
			}
		case checkIgnore:
			rejected()
		case checkFail:
			rejected()
			return &mutationError{"Invalid attempt to modify " + k}
		}
	}
	if h.byteSize() > defaultMaxHeadersKB*1024 || len(*h) > defaultMaxHeadersCount {
		rejected()
		return &mutationError{fmt.Sprintf("Header mutation causes end result header count %d or header size %d bytes, exceeding the count limit %d or the size limit %d kilobytes",
			len(*h), h.byteSize(), defaultMaxHeadersCount, defaultMaxHeadersKB)}
	}
	return nil
}

// applyBodyMutation is MutationUtils::applyBodyMutations (item 54).
func applyBodyMutation(m *extprocsvc.BodyMutation, buf []byte) []byte {
	switch p := m.GetMutation().(type) {
	case *extprocsvc.BodyMutation_Body:
		return append([]byte{}, p.Body...)
	case *extprocsvc.BodyMutation_ClearBody:
		if p.ClearBody {
			return []byte{}
		}
	}
	return buf
}
