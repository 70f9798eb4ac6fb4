package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// jwk is one JSON Web Key (RFC 7517) as published in a JWKS document.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	// RSA
	N string `json:"n"`
	E string `json:"e"`
	// EC and OKP
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// verifyKey is a parsed public key with what it may verify.
type verifyKey struct {
	kid string
	alg string // from the JWK; "" = any algorithm of the key's type
	key crypto.PublicKey
}

// keySet is an immutable parsed JWKS.
type keySet struct {
	keys []verifyKey
}

const minRSABits = 2048

// parseJWKS parses a JWKS document. Keys that are not for signatures, of an unsupported
// type, or malformed are skipped (skipped counts them), so one odd key published by an
// identity provider does not break the others; a document with no usable key is an
// error.
func parseJWKS(data []byte) (*keySet, int, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, 0, fmt.Errorf("jwks: %w", err)
	}
	ks := &keySet{}
	skipped := 0
	for _, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped++
			continue
		}
		pub, err := k.publicKey()
		if err != nil || (k.Use != "" && k.Use != "sig") {
			skipped++
			continue
		}
		ks.keys = append(ks.keys, verifyKey{kid: k.Kid, alg: k.Alg, key: pub})
	}
	if len(ks.keys) == 0 {
		return nil, skipped, errors.New("jwks: no usable signing key")
	}
	return ks, skipped, nil
}

func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}

func (k *jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err := b64(k.N)
		if err != nil {
			return nil, fmt.Errorf("jwk %q: n: %w", k.Kid, err)
		}
		e, err := b64(k.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("jwk %q: bad exponent", k.Kid)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("jwk %q: RSA key of %d bits is too short", k.Kid, pub.N.BitLen())
		}
		if pub.E < 3 || pub.E%2 == 0 {
			return nil, fmt.Errorf("jwk %q: bad exponent", k.Kid)
		}
		return pub, nil
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("jwk %q: unsupported curve %q", k.Kid, k.Crv)
		}
		x, errX := b64(k.X)
		y, errY := b64(k.Y)
		size := (curve.Params().BitSize + 7) / 8
		if errX != nil || errY != nil || len(x) != size || len(y) != size {
			return nil, fmt.Errorf("jwk %q: bad coordinates", k.Kid)
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point) // rejects points off the curve
		if err != nil {
			return nil, fmt.Errorf("jwk %q: %w", k.Kid, err)
		}
		return pub, nil
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, fmt.Errorf("jwk %q: unsupported curve %q", k.Kid, k.Crv)
		}
		x, err := b64(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("jwk %q: bad key", k.Kid)
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("jwk %q: unsupported key type %q", k.Kid, k.Kty)
}

// compatible reports whether a key may verify alg: the key's type and curve must be the
// ones alg is defined for (so an RSA key can never be used as an HMAC secret or the
// reverse), and a key that names its algorithm is used for that one only.
func (v *verifyKey) compatible(alg string) bool {
	if v.alg != "" && v.alg != alg {
		return false
	}
	switch pub := v.key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// find returns the keys that may verify a token with this kid and alg.
func (ks *keySet) find(kid, alg string) []crypto.PublicKey {
	var out []crypto.PublicKey
	for i := range ks.keys {
		k := &ks.keys[i]
		if kid != "" && k.kid != kid {
			continue
		}
		if k.compatible(alg) {
			out = append(out, k.key)
		}
	}
	return out
}

// asymmetricAlgs are the algorithms a JWTAuthenticator may allow. "none" and the HMAC
// family are absent on purpose: a shared secret has no place in a JWKS, and allowing
// HS* next to RS* is the classic key-confusion attack.
var asymmetricAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
}
