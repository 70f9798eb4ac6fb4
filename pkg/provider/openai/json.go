package openai

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/llm-router/llm-router/pkg/jsonscan"
	"math"
	"strconv"
)

var jsonNull = []byte("null")

// firstByte returns the first non-space byte of b, or 0.
func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// MarshalJSON writes null, a string or an array.
func (c Content) MarshalJSON() ([]byte, error) {
	switch {
	case c.Parts != nil:
		return json.Marshal(c.Parts)
	case c.Text != nil:
		return appendJSONString(nil, *c.Text), nil
	default:
		return jsonNull, nil
	}
}

// UnmarshalJSON reads null, a string or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	switch firstByte(b) {
	case 'n':
		return nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		c.Text = &s
		return nil
	case '[':
		parts := []ContentPart{}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		c.Parts = parts
		return nil
	}
	return errors.New("content must be a string, an array of content parts or null")
}

// String returns the text of string content, or the text parts of array content
// joined without separator (OpenAI concatenates them the same way).
func (c Content) String() string {
	if c.Text != nil {
		return *c.Text
	}
	var buf []byte
	for _, p := range c.Parts {
		if p.Text != nil {
			buf = append(buf, *p.Text...)
		}
	}
	return string(buf)
}

// MarshalJSON writes the string or the object form.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Mode != "" {
		return appendJSONString(nil, t.Mode), nil
	}
	return json.Marshal(struct {
		Type     string        `json:"type"`
		Function *FunctionName `json:"function,omitempty"`
	}{t.Type, t.Function})
}

// UnmarshalJSON reads the string or the object form.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	*t = ToolChoice{}
	switch firstByte(b) {
	case '"':
		return json.Unmarshal(b, &t.Mode)
	case '{':
		var o struct {
			Type     string        `json:"type"`
			Function *FunctionName `json:"function"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		t.Type, t.Function = o.Type, o.Function
		return nil
	}
	return errors.New(`tool_choice must be "none", "auto", "required" or an object`)
}

// StringList is a string or an array of strings (the stop parameter).
type StringList []string

// MarshalJSON writes a single string as a string, several as an array.
func (l StringList) MarshalJSON() ([]byte, error) {
	if len(l) == 1 {
		return appendJSONString(nil, l[0]), nil
	}
	return json.Marshal([]string(l))
}

// UnmarshalJSON reads a string, an array of strings or null.
func (l *StringList) UnmarshalJSON(b []byte) error {
	switch firstByte(b) {
	case 'n':
		*l = nil
		return nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = StringList{s}
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return errors.New("stop must be a string or an array of strings")
	}
	*l = a
	return nil
}

// NullString is a JSON string that may be null; numbers are kept as their text
// (vLLM and others send numeric error codes).
type NullString struct {
	Value string
	Valid bool
}

// MarshalJSON writes null when not Valid.
func (n NullString) MarshalJSON() ([]byte, error) {
	if !n.Valid {
		return jsonNull, nil
	}
	return appendJSONString(nil, n.Value), nil
}

// UnmarshalJSON reads a string, a number or null.
func (n *NullString) UnmarshalJSON(b []byte) error {
	*n = NullString{}
	switch c := firstByte(b); {
	case c == 'n':
		return nil
	case c == '"':
		n.Valid = true
		return json.Unmarshal(b, &n.Value)
	case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f':
		n.Valid, n.Value = true, string(bytes.TrimSpace(b))
		return nil
	}
	// Objects and arrays (seen from some proxies) are kept as their JSON text.
	n.Valid, n.Value = true, string(bytes.TrimSpace(b))
	return nil
}

// UnmarshalJSON reads the error object, or a bare string as the message (TGI and
// some proxies send {"error":"text"}).
func (e *ErrorDetail) UnmarshalJSON(b []byte) error {
	if firstByte(b) == '"' {
		*e = ErrorDetail{}
		return json.Unmarshal(b, &e.Message)
	}
	type plain ErrorDetail
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = ErrorDetail(p)
	return nil
}

// MarshalJSON writes a string, an array of strings, an id array or an array of id arrays.
func (in EmbeddingInput) MarshalJSON() ([]byte, error) {
	switch {
	case in.Tokens != nil && in.SingleTokens && len(in.Tokens) == 1:
		return json.Marshal(in.Tokens[0])
	case in.Tokens != nil:
		return json.Marshal(in.Tokens)
	case in.Single && len(in.Texts) == 1:
		return appendJSONString(nil, in.Texts[0]), nil
	default:
		if in.Texts == nil {
			return []byte("[]"), nil
		}
		return json.Marshal(in.Texts)
	}
}

// UnmarshalJSON reads any of the four input forms.
func (in *EmbeddingInput) UnmarshalJSON(b []byte) error {
	*in = EmbeddingInput{}
	switch firstByte(b) {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		in.Texts, in.Single = []string{s}, true
		return nil
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return err
		}
		if len(raw) == 0 {
			in.Texts = []string{}
			return nil
		}
		switch firstByte(raw[0]) {
		case '"':
			return json.Unmarshal(b, &in.Texts)
		case '[':
			return json.Unmarshal(b, &in.Tokens)
		default:
			var ids []int
			if err := json.Unmarshal(b, &ids); err != nil {
				return err
			}
			in.Tokens, in.SingleTokens = [][]int{ids}, true
			return nil
		}
	}
	return errors.New("input must be a string, an array of strings, or an array of token ids")
}

// MarshalJSON writes the float array or the base64 string.
func (v EmbeddingVector) MarshalJSON() ([]byte, error) {
	if v.Floats == nil {
		return appendJSONString(nil, v.Base64), nil
	}
	buf := make([]byte, 0, 2+len(v.Floats)*12)
	buf = append(buf, '[')
	for i, f := range v.Floats {
		if i > 0 {
			buf = append(buf, ',')
		}
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("embedding value %v is not representable in JSON", f)
		}
		buf = strconv.AppendFloat(buf, float64(f), 'g', -1, 32)
	}
	return append(buf, ']'), nil
}

// UnmarshalJSON reads a float array or a base64 string.
func (v *EmbeddingVector) UnmarshalJSON(b []byte) error {
	*v = EmbeddingVector{}
	if firstByte(b) == '"' {
		return json.Unmarshal(b, &v.Base64)
	}
	return json.Unmarshal(b, &v.Floats)
}

// Values returns the vector as floats, decoding the base64 form.
func (v EmbeddingVector) Values() ([]float32, error) {
	if v.Floats != nil {
		return v.Floats, nil
	}
	return DecodeBase64Floats(v.Base64)
}

// EncodeBase64Floats encodes f as OpenAI's base64 embedding format: little-endian
// IEEE-754 float32 values, base64 (standard alphabet, padded).
func EncodeBase64Floats(f []float32) string {
	raw := make([]byte, 4*len(f))
	for i, x := range f {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// DecodeBase64Floats decodes OpenAI's base64 embedding format.
func DecodeBase64Floats(s string) ([]float32, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("embedding base64: %w", err)
	}
	if len(raw)%4 != 0 {
		return nil, fmt.Errorf("embedding base64: %d bytes is not a whole number of float32 values", len(raw))
	}
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out, nil
}

// appendJSONString appends s as a JSON string literal (see jsonscan.AppendString).
func appendJSONString(dst []byte, s string) []byte { return jsonscan.AppendString(dst, s) }
