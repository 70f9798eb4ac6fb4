package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Hash returns the lowercase hex SHA-256 of cfg's canonical form: protojson
// with proto field names, map keys sorted, compacted (protojson deliberately
// varies its whitespace between builds; compacting removes that). Equal
// configs hash equally across processes and builds, so /statusz can show it and
// reload can tell whether anything changed. Secret references are hashed as
// written, so the hash reveals nothing about resolved secrets.
func Hash(cfg *configv1.Config) string {
	if cfg == nil {
		cfg = &configv1.Config{}
	}
	var canon []byte
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(cfg)
	if err == nil {
		var out bytes.Buffer
		if err = json.Compact(&out, b); err == nil {
			canon = out.Bytes()
		}
	}
	if err != nil {
		// protojson refuses out-of-range durations and invalid UTF-8, which a
		// config built in code may hold; deterministic binary is stable too.
		canon, _ = proto.MarshalOptions{Deterministic: true}.Marshal(cfg)
		canon = append([]byte("binary:"), canon...)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}
