package gemini

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/llm-router/llm-router/pkg/canonical"
	"github.com/llm-router/llm-router/pkg/provider"
)

// BuildEmbeddingRequest implements provider.EmbeddingBackend: :batchEmbedContents on the
// Gemini API, :predict (text-embedding models) on Vertex AI.
func (b *Backend) BuildEmbeddingRequest(ctx context.Context, req *canonical.EmbeddingRequest, t provider.Target) (*provider.UpstreamRequest, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	model := t.Model
	if model == "" {
		model = req.Model
	}
	if model == "" {
		return nil, badRequest("model", "model is required")
	}
	if len(req.Input) == 0 {
		return nil, badRequest("input", "input must not be empty")
	}
	if req.Dimensions < 0 {
		return nil, badRequest("dimensions", "dimensions must be positive")
	}
	task := taskType(req.InputType)
	var body any
	var method string
	if b.vertex {
		method = "predict"
		pr := PredictRequest{Instances: make([]PredictInstance, len(req.Input))}
		for i, in := range req.Input {
			pr.Instances[i] = PredictInstance{Content: in, TaskType: task}
		}
		pr.Parameters = &PredictParams{OutputDimensionality: req.Dimensions, AutoTruncate: true}
		body = pr
	} else {
		method = "batchEmbedContents"
		name := model
		if !strings.Contains(name, "/") {
			name = "models/" + name
		}
		br := BatchEmbedRequest{Requests: make([]EmbedContentRequest, len(req.Input))}
		for i, in := range req.Input {
			br.Requests[i] = EmbedContentRequest{
				Model:                name,
				Content:              Content{Parts: []Part{{Text: in}}},
				TaskType:             task,
				OutputDimensionality: req.Dimensions,
			}
		}
		body = br
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("gemini: encoding embedding request: %w", err)
	}
	return &provider.UpstreamRequest{
		Method: http.MethodPost,
		Path:   b.prefix + "/" + b.modelPath(model, method),
		Header: b.header(),
		Body:   raw,
	}, nil
}

// taskType maps retrieval hints to Gemini task types; Gemini's own names pass as given.
func taskType(inputType string) string {
	switch inputType {
	case "":
		return ""
	case "search_document", "document", "passage":
		return "RETRIEVAL_DOCUMENT"
	case "search_query", "query":
		return "RETRIEVAL_QUERY"
	case "classification":
		return "CLASSIFICATION"
	case "clustering":
		return "CLUSTERING"
	case "semantic_similarity":
		return "SEMANTIC_SIMILARITY"
	}
	return strings.ToUpper(inputType)
}

// DecodeEmbeddingResponse implements provider.EmbeddingBackend. The Gemini API reports
// no token counts, so its usage is left for the gateway to estimate (Estimated, zero
// tokens); Vertex's per-input token_count statistics are summed.
func (b *Backend) DecodeEmbeddingResponse(body []byte) (*canonical.EmbeddingResponse, error) {
	if b.vertex {
		var pr PredictResponse
		if err := json.Unmarshal(body, &pr); err != nil {
			return nil, upstreamInvalid("embedding response: %v", err)
		}
		out := &canonical.EmbeddingResponse{Embeddings: make([][]float32, len(pr.Predictions))}
		for i, p := range pr.Predictions {
			out.Embeddings[i] = p.Embeddings.Values
			out.Usage.InputTokens += int(p.Embeddings.Statistics.TokenCount)
		}
		if out.Usage.InputTokens == 0 {
			out.Usage.Estimated = true
		}
		return out, nil
	}
	var br BatchEmbedResponse
	if err := json.Unmarshal(body, &br); err != nil {
		return nil, upstreamInvalid("embedding response: %v", err)
	}
	out := &canonical.EmbeddingResponse{Embeddings: make([][]float32, len(br.Embeddings)), Usage: canonical.Usage{Estimated: true}}
	for i, e := range br.Embeddings {
		out.Embeddings[i] = e.Values
	}
	return out, nil
}
