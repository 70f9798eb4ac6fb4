package anthropic

import (
	"encoding/json"
	"fmt"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// DecodeChatResponse implements provider.Backend.
func (b *Backend) DecodeChatResponse(body []byte) (*canonical.Response, error) {
	return decodeResponse(body)
}

func decodeResponse(body []byte) (*canonical.Response, error) {
	var mr MessagesResponse
	if err := json.Unmarshal(body, &mr); err != nil {
		return nil, upstreamInvalid("response is not a Messages object: %v", err)
	}
	if mr.Type == "error" {
		var eb ErrorBody
		if json.Unmarshal(body, &eb) == nil {
			return nil, errorFromDetail(0, nil, eb.Error)
		}
	}
	if mr.Type != "message" && mr.Type != "" {
		return nil, upstreamInvalid("unexpected response type %q", mr.Type)
	}
	msg := canonical.Message{Role: canonical.RoleAssistant}
	for _, c := range mr.Content {
		switch c.Type {
		case "text":
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartText, Text: c.Text})
		case "thinking":
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartThinking, Text: c.Thinking, Signature: c.Signature})
		case "redacted_thinking":
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartRedactedThinking, Data: c.Data})
		case "tool_use":
			msg.ToolCalls = append(msg.ToolCalls, canonical.ToolCall{ID: c.ID, Name: c.Name, Arguments: argumentsJSON(c.Input)})
		}
		// Server tool blocks (server_tool_use, web_search_tool_result, …) describe work
		// Anthropic already did; canonical callers cannot act on them, so they are
		// dropped (see docs/providers.md).
	}
	stop := deref(mr.StopReason)
	resp := &canonical.Response{
		ID:                   mr.ID,
		Model:                mr.Model,
		Usage:                toCanonicalUsage(mr.Usage),
		ProviderFinishReason: stop,
		StopSequence:         deref(mr.StopSequence),
		Choices: []canonical.Choice{{
			Message:      msg,
			FinishReason: finishReason(stop, len(msg.ToolCalls) > 0),
		}},
	}
	return resp, nil
}

// argumentsJSON renders a tool_use input as the arguments string.
func argumentsJSON(input json.RawMessage) string {
	if c, err := compactObject(input); err == nil {
		return string(c)
	}
	return "{}"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// finishReason maps Anthropic's stop_reason.
func finishReason(stop string, hasToolCalls bool) canonical.FinishReason {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return canonical.FinishLength
	case "tool_use":
		return canonical.FinishToolCalls
	case "refusal":
		return canonical.FinishContentFilter
	case "end_turn", "stop_sequence", "pause_turn", "":
		if hasToolCalls {
			return canonical.FinishToolCalls
		}
		return canonical.FinishStop
	default:
		return canonical.FinishStop
	}
}

// stopReason maps a canonical finish back to Anthropic's stop_reason, preferring the
// provider's own value when it came from Anthropic.
func stopReason(f canonical.FinishReason, provider, stopSequence string) string {
	switch provider {
	case "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded":
		return provider
	}
	switch f {
	case canonical.FinishLength:
		return "max_tokens"
	case canonical.FinishToolCalls:
		return "tool_use"
	case canonical.FinishContentFilter:
		return "refusal"
	}
	if stopSequence != "" {
		return "stop_sequence"
	}
	return "end_turn"
}

// toCanonicalUsage adds cache reads and writes into InputTokens, which canonical counts
// inclusively (OpenAI's prompt_tokens convention).
func toCanonicalUsage(u Usage) canonical.Usage {
	cu := canonical.Usage{
		InputTokens:         u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens,
		OutputTokens:        u.OutputTokens,
		CachedInputTokens:   u.CacheReadInputTokens,
		CacheCreationTokens: u.CacheCreationInputTokens,
	}
	if u.OutputTokensDetails != nil {
		cu.ReasoningTokens = u.OutputTokensDetails.ThinkingTokens
	}
	return cu
}

// fromCanonicalUsage splits canonical usage back into Anthropic's exclusive fields.
func fromCanonicalUsage(u canonical.Usage) Usage {
	in := u.InputTokens - u.CachedInputTokens - u.CacheCreationTokens
	if in < 0 {
		in = 0
	}
	au := Usage{
		InputTokens:              in,
		OutputTokens:             u.OutputTokens,
		CacheReadInputTokens:     u.CachedInputTokens,
		CacheCreationInputTokens: u.CacheCreationTokens,
	}
	if u.ReasoningTokens > 0 {
		au.OutputTokensDetails = &OutputTokensDetails{ThinkingTokens: u.ReasoningTokens}
	}
	return au
}

// upstreamInvalid is the error for a success status with an unreadable body.
func upstreamInvalid(format string, args ...any) *canonical.Error {
	return &canonical.Error{
		Status:  502,
		Kind:    canonical.ErrUpstream,
		Message: "anthropic: invalid upstream response: " + fmt.Sprintf(format, args...),
	}
}
