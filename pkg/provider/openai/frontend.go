package openai

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// Frontend is the OpenAI Chat Completions input schema. It implements
// provider.Frontend and adds the embeddings endpoint.
type Frontend struct{}

var (
	_ provider.Frontend          = Frontend{}
	_ provider.EmbeddingFrontend = Frontend{}
)

// Schema implements provider.Frontend.
func (Frontend) Schema() provider.Schema { return provider.SchemaOpenAI }

// ParseChatRequest implements provider.Frontend: developer messages become system
// parts, tool messages keep their call id, and images by URL or data URL become
// canonical images. Parameters the gateway does not map are kept in Extra.
func (Frontend) ParseChatRequest(body []byte) (*canonical.Request, error) {
	return ParseChatRequest(body)
}

// EncodeChatResponse implements provider.Frontend.
func (Frontend) EncodeChatResponse(resp *canonical.Response) ([]byte, error) {
	return EncodeChatResponse(resp)
}

// NewChatStreamEncoder implements provider.Frontend.
func (Frontend) NewChatStreamEncoder(req *canonical.Request) provider.StreamEncoder {
	return NewChatStreamEncoder(req)
}

// EncodeError implements provider.Frontend.
func (Frontend) EncodeError(err *canonical.Error) []byte { return EncodeError(err) }

// ParseEmbeddingRequest decodes an OpenAI embeddings body. Token-id inputs cannot be
// translated for other providers and are rejected here; pass such bodies through
// to OpenAI-family backends untouched instead.
func (Frontend) ParseEmbeddingRequest(body []byte) (*canonical.EmbeddingRequest, error) {
	return ParseEmbeddingRequest(body)
}

// EncodeEmbeddingResponse renders resp in OpenAI's format; format "base64" encodes
// the vectors as OpenAI does.
func (Frontend) EncodeEmbeddingResponse(resp *canonical.EmbeddingResponse, format string) ([]byte, error) {
	return EncodeEmbeddingResponse(resp, format)
}

// ParseEmbeddingRequest decodes an OpenAI embeddings body into canonical form.
func ParseEmbeddingRequest(body []byte) (*canonical.EmbeddingRequest, error) {
	var w EmbeddingRequest
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, invalid(jsonErrorParam(err), "Invalid request body: %v", err)
	}
	if w.Model == "" {
		return nil, invalid("model", "you must provide a model parameter")
	}
	if w.Input.Tokens != nil {
		return nil, invalid("input", "token-id input is only supported when the backend speaks OpenAI's schema")
	}
	if len(w.Input.Texts) == 0 {
		return nil, invalid("input", "'input' must be a non-empty string or array of strings")
	}
	for i, s := range w.Input.Texts {
		if s == "" {
			return nil, invalid(fmt.Sprintf("input[%d]", i), "'input' must not contain empty strings")
		}
	}
	switch w.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, invalid("encoding_format", "encoding_format must be \"float\" or \"base64\"")
	}
	req := &canonical.EmbeddingRequest{Model: w.Model, Input: w.Input.Texts, EncodingFormat: w.EncodingFormat, User: w.User}
	if w.Dimensions != nil {
		if *w.Dimensions < 1 {
			return nil, invalid("dimensions", "dimensions must be at least 1")
		}
		req.Dimensions = *w.Dimensions
	}
	return req, nil
}

// EncodeEmbeddingResponse renders resp as an OpenAI embeddings response.
func EncodeEmbeddingResponse(resp *canonical.EmbeddingResponse, format string) ([]byte, error) {
	w := EmbeddingResponse{Object: "list", Model: resp.Model, Data: make([]Embedding, len(resp.Embeddings))}
	for i, v := range resp.Embeddings {
		e := Embedding{Object: "embedding", Index: i}
		if format == "base64" {
			e.Embedding.Base64 = EncodeBase64Floats(v)
		} else {
			e.Embedding.Floats = v
			if v == nil {
				e.Embedding.Floats = []float32{}
			}
		}
		w.Data[i] = e
	}
	w.Usage = &EmbeddingUsage{PromptTokens: resp.Usage.InputTokens, TotalTokens: resp.Usage.InputTokens}
	out, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode openai embedding response: %w", err)
	}
	return out, nil
}

// EncodeModelList renders the /v1/models response for the given model ids.
func EncodeModelList(ids []string, ownedBy string, created time.Time) []byte {
	l := ModelList{Object: "list", Data: make([]Model, 0, len(ids))}
	for _, id := range ids {
		l.Data = append(l.Data, Model{ID: id, Object: "model", Created: created.Unix(), OwnedBy: ownedBy})
	}
	out, _ := json.Marshal(&l) // cannot fail: only strings and ints
	return out
}
