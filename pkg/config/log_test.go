package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

func TestZapFieldRedacts(t *testing.T) {
	cfg := secretConfig()
	cfg.Server = &configv1.Server{DrainTimeout: durationpb.New(1500_000_000), UpstreamFilter: true, MaxRequestBodyBytes: 7}
	cfg.Models = []*configv1.Model{{Name: "m", Aliases: []string{"a1", "a2"}, Backends: []*configv1.Backend{{Provider: "openai", Weight: 2}}}}

	for _, encoder := range []string{"json", "console"} {
		t.Run(encoder, func(t *testing.T) {
			var buf bytes.Buffer
			encCfg := zap.NewProductionEncoderConfig()
			enc := zapcore.NewJSONEncoder(encCfg)
			if encoder == "console" {
				enc = zapcore.NewConsoleEncoder(encCfg)
			}
			log := zap.New(zapcore.NewCore(enc, zapcore.AddSync(&buf), zap.DebugLevel))
			log.Info("loaded", ZapField("config", cfg))
			log.Info("stringer", zap.Stringer("config", LogObject(cfg)))
			require.NoError(t, log.Sync())
			out := buf.String()
			for _, s := range literalSecrets {
				require.NotContains(t, out, s)
			}
			require.Contains(t, out, Redacted)
			require.Contains(t, out, "${ORG}")
		})
	}

	// The structured form keeps types: numbers, booleans, lists, durations.
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zap.DebugLevel))
	log.Info("loaded", ZapField("config", cfg))
	var line struct {
		Config struct {
			Server struct {
				DrainTimeout        float64 `json:"drain_timeout"`
				UpstreamFilter      bool    `json:"upstream_filter"`
				MaxRequestBodyBytes int     `json:"max_request_body_bytes"`
			} `json:"server"`
			Providers []struct {
				Name    string            `json:"name"`
				APIKey  string            `json:"api_key"`
				Headers map[string]string `json:"headers"`
			} `json:"providers"`
			Models []struct {
				Aliases  []string `json:"aliases"`
				Backends []struct {
					Weight int `json:"weight"`
				} `json:"backends"`
			} `json:"models"`
		} `json:"config"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	require.InDelta(t, 1.5, line.Config.Server.DrainTimeout, 1e-9)
	require.True(t, line.Config.Server.UpstreamFilter)
	require.Equal(t, 7, line.Config.Server.MaxRequestBodyBytes)
	require.Equal(t, "openai", line.Config.Providers[0].Name)
	require.Equal(t, Redacted, line.Config.Providers[0].APIKey)
	require.Equal(t, "${ORG}", line.Config.Providers[0].Headers["X-Ref"])
	require.Equal(t, []string{"a1", "a2"}, line.Config.Models[0].Aliases)
	require.Equal(t, 2, line.Config.Models[0].Backends[0].Weight)
}

func TestLogObjectString(t *testing.T) {
	s := fmt.Sprint(LogObject(secretConfig()))
	require.JSONEq(t, s, LogObject(secretConfig()).String())
	for _, secret := range literalSecrets {
		require.NotContains(t, s, secret)
	}
	require.Equal(t, "null", LogObject(nil).String())
	enc := zapcore.NewMapObjectEncoder()
	require.NoError(t, LogObject(nil).MarshalLogObject(enc))
	require.Empty(t, enc.Fields)
}

func TestMessageLogEveryKind(t *testing.T) {
	md := walkDescriptor(t)
	m, err := walkYAML(md, "i32: -3\nu64: 5\nf: 1.5\nraw: aGk=\nflag: true\ncolor: BLUE\ncolors: [RED]\nints: [1, 2]\ndur: 2s\nchild: {i32: 1}\nbyInt: {1: one}\nchildren: {x: {i32: 3}}\n")
	require.NoError(t, err)
	// An enum number without a name still logs.
	m.Mutable(md.Fields().ByName("colors")).List().Append(protoreflect.ValueOfEnum(9))
	m.Set(md.Fields().ByName("u32"), protoreflect.ValueOfUint32(4))

	enc := zapcore.NewMapObjectEncoder()
	require.NoError(t, messageLog{m}.MarshalLogObject(enc))
	f := enc.Fields
	require.Equal(t, int64(-3), f["i32"])
	require.Equal(t, uint64(5), f["u64"])
	require.Equal(t, uint64(4), f["u32"])
	require.Equal(t, 1.5, f["f"])
	require.Equal(t, "aGk=", f["raw"])
	require.Equal(t, true, f["flag"])
	require.Equal(t, "BLUE", f["color"])
	require.Equal(t, []any{"RED", "9"}, f["colors"])
	require.Equal(t, []any{int64(1), int64(2)}, f["ints"])
	require.Equal(t, 2*time.Second, f["dur"])
	require.Equal(t, map[string]any{"i32": int64(1)}, f["child"])
	require.Equal(t, map[string]any{"1": "one"}, f["by_int"])
	require.Equal(t, map[string]any{"x": map[string]any{"i32": int64(3)}}, f["children"])
}
