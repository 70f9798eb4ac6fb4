package config

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Loggable is a configuration with its secrets redacted, safe to hand to zap
// (as an ObjectMarshaler) or to fmt (as a Stringer).
type Loggable struct {
	cfg *configv1.Config
}

// LogObject returns cfg redacted (see Redact) in a form zap and fmt print.
// Logging a *configv1.Config directly (zap.Any, %v) would print its secrets.
func LogObject(cfg *configv1.Config) Loggable {
	return Loggable{cfg: Redact(cfg)}
}

// ZapField is zap.Object(key, LogObject(cfg)).
func ZapField(key string, cfg *configv1.Config) zap.Field {
	return zap.Object(key, LogObject(cfg))
}

// String renders the redacted configuration as compact JSON.
func (l Loggable) String() string {
	if l.cfg == nil {
		return "null"
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(l.cfg)
	if err != nil {
		return "<unprintable config>"
	}
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return "<unprintable config>"
	}
	return out.String()
}

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (l Loggable) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	if l.cfg == nil {
		return nil
	}
	return messageLog{l.cfg.ProtoReflect()}.MarshalLogObject(enc)
}

// messageLog encodes any proto message field by field, so the log output is
// structured (queryable) rather than one JSON string.
type messageLog struct{ m protoreflect.Message }

func (ml messageLog) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	fields := ml.m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !ml.m.Has(fd) {
			continue
		}
		name, v := string(fd.Name()), ml.m.Get(fd)
		var err error
		switch {
		case fd.IsList():
			err = enc.AddArray(name, listLog{fd, v.List()})
		case fd.IsMap():
			err = enc.AddObject(name, mapLog{fd, v.Map()})
		default:
			err = addField(enc, name, fd, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func addField(enc zapcore.ObjectEncoder, name string, fd protoreflect.FieldDescriptor, v protoreflect.Value) error {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if m := v.Message(); m.Descriptor().FullName() == "google.protobuf.Duration" {
			// Read through reflection: a dynamic message is not a *durationpb.Duration.
			f := m.Descriptor().Fields()
			d := durationpb.Duration{Seconds: m.Get(f.ByNumber(1)).Int(), Nanos: int32(m.Get(f.ByNumber(2)).Int())}
			enc.AddDuration(name, d.AsDuration())
			return nil
		}
		return enc.AddObject(name, messageLog{v.Message()})
	case protoreflect.StringKind:
		enc.AddString(name, v.String())
	case protoreflect.BoolKind:
		enc.AddBool(name, v.Bool())
	case protoreflect.BytesKind:
		enc.AddString(name, base64.StdEncoding.EncodeToString(v.Bytes()))
	case protoreflect.EnumKind:
		enc.AddString(name, enumName(fd, v))
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		enc.AddFloat64(name, v.Float())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		enc.AddUint64(name, v.Uint())
	default:
		enc.AddInt64(name, v.Int())
	}
	return nil
}

func enumName(fd protoreflect.FieldDescriptor, v protoreflect.Value) string {
	if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
		return string(ev.Name())
	}
	return strconv.Itoa(int(v.Enum()))
}

type listLog struct {
	fd protoreflect.FieldDescriptor
	l  protoreflect.List
}

func (ll listLog) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for i := range ll.l.Len() {
		v := ll.l.Get(i)
		switch ll.fd.Kind() {
		case protoreflect.MessageKind, protoreflect.GroupKind:
			if err := enc.AppendObject(messageLog{v.Message()}); err != nil {
				return err
			}
		case protoreflect.StringKind:
			enc.AppendString(v.String())
		case protoreflect.BoolKind:
			enc.AppendBool(v.Bool())
		case protoreflect.BytesKind:
			enc.AppendString(base64.StdEncoding.EncodeToString(v.Bytes()))
		case protoreflect.EnumKind:
			enc.AppendString(enumName(ll.fd, v))
		case protoreflect.FloatKind, protoreflect.DoubleKind:
			enc.AppendFloat64(v.Float())
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			enc.AppendUint64(v.Uint())
		default:
			enc.AppendInt64(v.Int())
		}
	}
	return nil
}

type mapLog struct {
	fd protoreflect.FieldDescriptor
	m  protoreflect.Map
}

func (ml mapLog) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	keys := make([]protoreflect.MapKey, 0, ml.m.Len())
	ml.m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	slices.SortFunc(keys, func(a, b protoreflect.MapKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		if err := addField(enc, k.String(), ml.fd.MapValue(), ml.m.Get(k)); err != nil {
			return err
		}
	}
	return nil
}
