package e2e

import (
	"io"
	"net/http"
	"strings"
)

// readBody copies resp's body into sb.
func readBody(sb *strings.Builder, resp *http.Response) (int64, error) {
	return io.Copy(sb, resp.Body)
}
