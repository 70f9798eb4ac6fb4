package geminitest

import (
	"encoding/json"
	"time"
)

// Reply scripts one response. The same Reply renders as a generateContent body, a
// stream of chunks, or an embeddings body, depending on the request.
type Reply struct {
	// Status overrides the HTTP status of a success reply.
	Status int
	// Header adds response headers.
	Header map[string]string
	// Error makes this an error reply.
	Error *Error
	// RawBody, when non-nil, is sent verbatim.
	RawBody []byte

	ResponseID   string
	ModelVersion string // defaults to the requested model
	// Candidates; Parts/FinishReason are a shorthand for a single candidate.
	Candidates   []Candidate
	Parts        []Part
	FinishReason string // default "STOP"
	// BlockReason answers with promptFeedback.blockReason and no candidates.
	BlockReason string
	Usage       Usage

	// StreamError sends {"error":…} as chunk number AfterChunks and ends the stream.
	StreamError *StreamError
	// TextChunk is how many runes of text each stream chunk carries (default 8).
	TextChunk int
	// ChunkSize overrides the server's write size; LineEnd its SSE line end.
	ChunkSize  int
	LineEnd    string
	ChunkDelay time.Duration
	// CutAfterBytes truncates the stream body.
	CutAfterBytes int

	// Embeddings overrides the generated vectors of an embeddings reply; TokenCount is
	// Vertex's per-input token_count (default 3).
	Embeddings [][]float32
	TokenCount int
}

// Error is a google.rpc.Status error.
type Error struct {
	Code    int
	Status  string
	Message string
	// Details are google.rpc detail objects, e.g.
	// {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"7s"}.
	Details []map[string]any
}

func (e Error) body() []byte {
	detail := map[string]any{"code": e.Code, "message": e.Message, "status": e.Status}
	if len(e.Details) > 0 {
		detail["details"] = e.Details
	}
	b, _ := json.Marshal(map[string]any{"error": detail})
	return b
}

// StreamError is an error chunk inside a 200 stream.
type StreamError struct {
	AfterChunks int
	Error       Error
}

// Candidate is one generated alternative.
type Candidate struct {
	Parts        []Part
	FinishReason string
}

// Part is one response part.
type Part struct {
	Text             string
	Thought          bool
	ThoughtSignature string
	// FunctionCall, when Name is set.
	Call *Call
}

// Call is a functionCall; Args is a JSON object ("" = none) and ID is optional.
type Call struct {
	ID, Name, Args string
}

// Usage is usageMetadata.
type Usage struct {
	Prompt, Candidates, Cached, Thoughts, ToolUsePrompt int
}

// Text is a text part.
func Text(s string) Part { return Part{Text: s} }

// Thought is a thought-summary part.
func Thought(s string) Part { return Part{Text: s, Thought: true} }

// FunctionCall is a functionCall part; sig is its thought signature ("" for none).
func FunctionCall(name, args, sig string) Part {
	return Part{Call: &Call{Name: name, Args: args}, ThoughtSignature: sig}
}

// TextReply is a one-candidate STOP reply.
func TextReply(s string) Reply {
	return Reply{Parts: []Part{Text(s)}, Usage: Usage{Prompt: 9, Candidates: 5}}
}

// ErrorReply is an error reply with a google.rpc code name, e.g.
// ErrorReply(429, "RESOURCE_EXHAUSTED", "Quota exceeded").
func ErrorReply(code int, status, msg string) Reply {
	return Reply{Error: &Error{Code: code, Status: status, Message: msg}}
}

func (rp *Reply) candidates() []Candidate {
	if len(rp.Candidates) > 0 {
		return rp.Candidates
	}
	if rp.BlockReason != "" {
		return nil
	}
	return []Candidate{{Parts: rp.Parts, FinishReason: rp.FinishReason}}
}

func (p Part) json() map[string]any {
	m := map[string]any{}
	if p.Call != nil {
		fc := map[string]any{"name": p.Call.Name}
		if p.Call.Args != "" {
			fc["args"] = json.RawMessage(p.Call.Args)
		}
		if p.Call.ID != "" {
			fc["id"] = p.Call.ID
		}
		m["functionCall"] = fc
	} else {
		m["text"] = p.Text
	}
	if p.Thought {
		m["thought"] = true
	}
	if p.ThoughtSignature != "" {
		m["thoughtSignature"] = p.ThoughtSignature
	}
	return m
}

func (u Usage) json(final bool) map[string]any {
	m := map[string]any{"promptTokenCount": u.Prompt}
	if !final {
		return m
	}
	m["candidatesTokenCount"] = u.Candidates
	m["totalTokenCount"] = u.Prompt + u.Candidates + u.Thoughts + u.ToolUsePrompt
	if u.Cached > 0 {
		m["cachedContentTokenCount"] = u.Cached
	}
	if u.Thoughts > 0 {
		m["thoughtsTokenCount"] = u.Thoughts
	}
	if u.ToolUsePrompt > 0 {
		m["toolUsePromptTokenCount"] = u.ToolUsePrompt
	}
	return m
}

func (rp *Reply) envelope(model string, cands []map[string]any, final bool) map[string]any {
	m := map[string]any{"usageMetadata": rp.Usage.json(final), "modelVersion": model}
	if rp.ResponseID != "" {
		m["responseId"] = rp.ResponseID
	}
	if cands != nil {
		m["candidates"] = cands
	}
	if final && rp.BlockReason != "" {
		m["promptFeedback"] = map[string]any{"blockReason": rp.BlockReason}
	}
	return m
}

func finish(c Candidate) string {
	if c.FinishReason == "" {
		return "STOP"
	}
	return c.FinishReason
}

// full renders a generateContent response.
func (rp *Reply) full(model string) map[string]any {
	var cands []map[string]any
	for i, c := range rp.candidates() {
		parts := make([]map[string]any, 0, len(c.Parts))
		for _, p := range c.Parts {
			parts = append(parts, p.json())
		}
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "finishReason": finish(c)}
		if i > 0 {
			cand["index"] = i // proto3 JSON leaves index 0 out
		}
		cands = append(cands, cand)
	}
	return rp.envelope(model, cands, true)
}

// chunks renders the stream: text split every TextChunk runes, one chunk per function
// call, and a last chunk with the finish reasons and the final usage.
func (rp *Reply) chunks(model string) []map[string]any {
	size := rp.TextChunk
	if size <= 0 {
		size = 8
	}
	var out []map[string]any
	cands := rp.candidates()
	for i, c := range cands {
		for _, p := range c.Parts {
			var pieces []Part
			if p.Call == nil {
				r := []rune(p.Text)
				for len(r) > 0 {
					n := min(size, len(r))
					piece := p
					piece.Text = string(r[:n])
					piece.ThoughtSignature = ""
					pieces = append(pieces, piece)
					r = r[n:]
				}
				// A signature rides on the last piece, as the API sends it.
				if len(pieces) > 0 {
					pieces[len(pieces)-1].ThoughtSignature = p.ThoughtSignature
				}
			} else {
				pieces = []Part{p}
			}
			for _, piece := range pieces {
				cand := map[string]any{"content": map[string]any{"role": "model", "parts": []map[string]any{piece.json()}}}
				if i > 0 {
					cand["index"] = i
				}
				out = append(out, rp.envelope(model, []map[string]any{cand}, false))
			}
		}
	}
	var last []map[string]any
	for i, c := range cands {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": []map[string]any{{"text": ""}}}, "finishReason": finish(c)}
		if i > 0 {
			cand["index"] = i
		}
		last = append(last, cand)
	}
	out = append(out, rp.envelope(model, last, true))
	if rp.StreamError != nil && rp.StreamError.AfterChunks < len(out) {
		var e map[string]any
		_ = json.Unmarshal(rp.StreamError.Error.body(), &e)
		out = append(out[:rp.StreamError.AfterChunks], e)
	}
	return out
}

// embedding renders batchEmbedContents or :predict output: one deterministic vector per
// input, of the requested dimensionality (default 8).
func (rp *Reply) embedding(rec Request) map[string]any {
	body := rec.JSON()
	var inputs []map[string]any
	dims := 0
	if reqs, ok := body["requests"].([]any); ok {
		for _, r := range reqs {
			m, _ := r.(map[string]any)
			inputs = append(inputs, m)
			if d, ok := m["outputDimensionality"].(float64); ok {
				dims = int(d)
			}
		}
	} else if inst, ok := body["instances"].([]any); ok {
		for _, r := range inst {
			m, _ := r.(map[string]any)
			inputs = append(inputs, m)
		}
		if params, ok := body["parameters"].(map[string]any); ok {
			if d, ok := params["outputDimensionality"].(float64); ok {
				dims = int(d)
			}
		}
	}
	if dims <= 0 {
		dims = 8
	}
	vectors := rp.Embeddings
	if vectors == nil {
		vectors = make([][]float32, len(inputs))
		for i := range vectors {
			v := make([]float32, dims)
			for j := range v {
				v[j] = float32(i+1) / float32(j+1)
			}
			vectors[i] = v
		}
	}
	if rec.RPC == "batchEmbedContents" {
		embs := make([]map[string]any, len(vectors))
		for i, v := range vectors {
			embs[i] = map[string]any{"values": v}
		}
		return map[string]any{"embeddings": embs}
	}
	tokens := rp.TokenCount
	if tokens == 0 {
		tokens = 3
	}
	preds := make([]map[string]any, len(vectors))
	for i, v := range vectors {
		preds[i] = map[string]any{"embeddings": map[string]any{
			"values":     v,
			"statistics": map[string]any{"truncated": false, "token_count": tokens},
		}}
	}
	return map[string]any{"predictions": preds, "metadata": map[string]any{"billableCharacterCount": 10}}
}
