package bedrocktest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// MaxClockSkew is how far X-Amz-Date may be from the server clock, as AWS enforces.
const MaxClockSkew = 15 * time.Minute

// VerifySigV4 checks the AWS Signature Version 4 of a received request the way AWS
// does: it parses the Authorization header, rebuilds the request from exactly the
// headers listed in SignedHeaders, recomputes the signature with aws-sdk-go-v2's
// signer over the received body, and compares. Headers added after signing (by a
// proxy, say) are ignored, as they are by AWS; a changed body, path, signed header,
// date, region, service or key fails.
func VerifySigV4(r *http.Request, body []byte, creds aws.Credentials, region, service string, now time.Time) error {
	auth := r.Header.Get("Authorization")
	const alg = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, alg) {
		return fmt.Errorf("missing or non-SigV4 Authorization header")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(auth, alg), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return fmt.Errorf("malformed Authorization field %q", f)
		}
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return fmt.Errorf("malformed credential scope %q", fields["Credential"])
	}
	if scope[0] != creds.AccessKeyID {
		return fmt.Errorf("unknown access key id %q", scope[0])
	}
	if scope[2] != region || scope[3] != service {
		return fmt.Errorf("credential scope is %s/%s, want %s/%s", scope[2], scope[3], region, service)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signTime, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date %q", amzDate)
	}
	if scope[1] != amzDate[:8] {
		return fmt.Errorf("credential scope date %s does not match X-Amz-Date %s", scope[1], amzDate)
	}
	if d := now.Sub(signTime); d > MaxClockSkew || d < -MaxClockSkew {
		return fmt.Errorf("signature time %s is more than %s from server time", amzDate, MaxClockSkew)
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return fmt.Errorf("x-amz-content-sha256 does not match the body")
	}
	if creds.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != creds.SessionToken {
		return fmt.Errorf("missing or wrong X-Amz-Security-Token")
	}

	rebuilt := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: "https", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	for _, name := range signed {
		switch name {
		case "host":
			continue
		case "content-length":
			rebuilt.ContentLength = r.ContentLength
			continue
		}
		vals := r.Header.Values(name)
		if len(vals) == 0 {
			return fmt.Errorf("signed header %q is missing from the request", name)
		}
		rebuilt.Header[textproto.CanonicalMIMEHeaderKey(name)] = vals
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, rebuilt, payloadHash, service, region, signTime); err != nil {
		return fmt.Errorf("recompute signature: %w", err)
	}
	if got := rebuilt.Header.Get("Authorization"); got != auth {
		return fmt.Errorf("signature mismatch: the request signature we calculated does not match the signature provided")
	}
	return nil
}
