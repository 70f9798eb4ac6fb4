package gcpauth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzNew feeds arbitrary credential documents to New: it must reject or accept them
// without panicking, and never echo key material in its errors.
func FuzzNew(f *testing.F) {
	f.Add([]byte(`{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"}`))
	f.Add([]byte(`{"type":"authorized_user","client_id":"c","refresh_token":"r"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(strings.TrimSpace(string(doc))) == 0 {
			return // empty selects ADC, which may probe the environment
		}
		s, err := New(Options{CredentialsJSON: doc})
		if err != nil {
			require.NotContains(t, err.Error(), "PRIVATE KEY")
			return
		}
		require.NotNil(t, s.fetch)
	})
}
