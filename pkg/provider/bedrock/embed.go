package bedrock

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// Embeddings go through InvokeModel with the model family's native body:
//
//   - Amazon Titan Text Embeddings ("amazon.titan-embed-text-v2:0", v1, …):
//     {"inputText", "dimensions", "normalize"} → {"embedding", "inputTextTokenCount"}.
//     Titan embeds ONE text per call; a request with several inputs is rejected with
//     a 400 rather than silently fanned out, because one upstream request per
//     gateway request is what the ext_proc data path can send.
//   - Cohere Embed on Bedrock ("cohere.embed-english-v3", "cohere.embed-v4:0", …):
//     {"texts", "input_type", "embedding_types", "output_dimension"} →
//     {"embeddings": {"float": [[…]]}} (or a bare array without embedding_types).
//     Bedrock reports Cohere's token count only in the X-Amzn-Bedrock-Input-Token-Count
//     response header, not in the body, so usage stays zero here and the gateway
//     estimates it.

type titanEmbedRequest struct {
	InputText  string `json:"inputText"`
	Dimensions int    `json:"dimensions,omitempty"`
	Normalize  *bool  `json:"normalize,omitempty"`
}

type cohereEmbedRequest struct {
	Texts           []string `json:"texts"`
	InputType       string   `json:"input_type"`
	EmbeddingTypes  []string `json:"embedding_types,omitempty"`
	OutputDimension int      `json:"output_dimension,omitempty"`
}

type embedResponse struct {
	// Titan
	Embedding           []float32 `json:"embedding"`
	InputTextTokenCount int       `json:"inputTextTokenCount"`
	// Cohere: an array of vectors, or an object keyed by embedding type.
	Embeddings json.RawMessage `json:"embeddings"`
}

// embedder holds what both backends share: the path prefix, the provider's extra
// headers (set before signing, so they are signed too) and the embeddings calls.
type embedder struct {
	prefix string
	extra  map[string]string
}

// header builds request headers: the provider's extra headers, then the ones
// this adapter needs (which win).
func (e embedder) header(kv ...string) http.Header {
	h := http.Header{}
	for k, v := range e.extra {
		h.Set(k, v)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func isCohereEmbed(model string) bool {
	return strings.Contains(strings.ToLower(model), "cohere.embed")
}

func isTitanV1(model string) bool {
	m := strings.ToLower(model)
	return strings.Contains(m, "titan-embed") && !strings.Contains(m, "-v2")
}

// BuildEmbeddingRequest implements provider.EmbeddingBackend.
func (e embedder) BuildEmbeddingRequest(_ context.Context, req *canonical.EmbeddingRequest, t provider.Target) (*provider.UpstreamRequest, error) {
	if len(req.Input) == 0 {
		return nil, invalid("input", "input must not be empty")
	}
	var body any
	if isCohereEmbed(t.Model) {
		it := req.InputType
		if it == "" {
			it = "search_document"
		}
		body = cohereEmbedRequest{Texts: req.Input, InputType: it, EmbeddingTypes: []string{"float"}, OutputDimension: req.Dimensions}
	} else {
		if len(req.Input) != 1 {
			return nil, invalid("input", "Amazon Titan embeddings take one input per request, got %d; send them one by one", len(req.Input))
		}
		tr := titanEmbedRequest{InputText: req.Input[0]}
		if !isTitanV1(t.Model) {
			// v1 accepts inputText only; v2 takes dimensions and normalize.
			tr.Dimensions = req.Dimensions
			tr.Normalize = ptr(true)
		}
		body = tr
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return &provider.UpstreamRequest{
		Method: http.MethodPost,
		Path:   modelPath(e.prefix, t.Model, "invoke"),
		Header: e.header("Content-Type", "application/json", "Accept", "application/json"),
		Body:   b,
	}, nil
}

// DecodeEmbeddingResponse implements provider.EmbeddingBackend. The family is told
// apart by the body's shape.
func (embedder) DecodeEmbeddingResponse(body []byte) (*canonical.EmbeddingResponse, error) {
	var r embedResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, upstreamError("decode Bedrock embedding response: %v", err)
	}
	if r.Embedding != nil {
		return &canonical.EmbeddingResponse{
			Embeddings: [][]float32{r.Embedding},
			Usage:      canonical.Usage{InputTokens: r.InputTextTokenCount},
		}, nil
	}
	raw := bytes.TrimSpace(r.Embeddings)
	var vecs [][]float32
	switch {
	case len(raw) > 0 && raw[0] == '[':
		if err := json.Unmarshal(raw, &vecs); err != nil {
			return nil, upstreamError("decode Bedrock Cohere embeddings: %v", err)
		}
	case len(raw) > 0 && raw[0] == '{':
		var byType struct {
			Float [][]float32 `json:"float"`
		}
		if err := json.Unmarshal(raw, &byType); err != nil {
			return nil, upstreamError("decode Bedrock Cohere embeddings: %v", err)
		}
		if byType.Float == nil {
			return nil, upstreamError("Bedrock Cohere embeddings carry no float vectors")
		}
		vecs = byType.Float
	default:
		return nil, upstreamError("Bedrock embedding response has neither embedding nor embeddings")
	}
	return &canonical.EmbeddingResponse{Embeddings: vecs}, nil
}
