package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// DecodeChatResponse implements provider.Backend.
func (b *Backend) DecodeChatResponse(body []byte) (*canonical.Response, error) {
	var gr GenerateContentResponse
	if err := json.Unmarshal(body, &gr); err != nil {
		return nil, upstreamInvalid("response is not a GenerateContentResponse: %v", err)
	}
	if gr.Error != nil {
		return nil, errorFromDetail(0, nil, *gr.Error)
	}
	resp := &canonical.Response{ID: gr.ResponseID, Model: gr.ModelVersion, Usage: toCanonicalUsage(gr.UsageMetadata)}
	calls := 0
	for i, c := range gr.Candidates {
		msg := canonical.Message{Role: canonical.RoleAssistant}
		if c.Content != nil {
			for _, p := range c.Content.Parts {
				switch {
				case p.FunctionCall != nil:
					msg.ToolCalls = append(msg.ToolCalls, toolCall(gr.ResponseID, calls, p))
					calls++
				case p.Thought && p.Text != "":
					msg.Content = appendText(msg.Content, canonical.PartThinking, p.Text)
				case p.Text != "":
					msg.Content = appendText(msg.Content, canonical.PartText, p.Text)
				}
				// Other parts (executableCode, codeExecutionResult, inline media
				// output) have no canonical form and are dropped (see docs/providers.md).
			}
		}
		index := c.Index
		if index == 0 {
			index = i // proto3 JSON omits index 0; position is the fallback
		}
		resp.Choices = append(resp.Choices, canonical.Choice{
			Index:        index,
			Message:      msg,
			FinishReason: finishReason(c.FinishReason, len(msg.ToolCalls) > 0),
		})
		if i == 0 {
			resp.ProviderFinishReason = c.FinishReason
		}
	}
	if len(resp.Choices) == 0 {
		// No candidates: the prompt itself was blocked.
		reason := ""
		if gr.PromptFeedback != nil {
			reason = gr.PromptFeedback.BlockReason
		}
		resp.ProviderFinishReason = reason
		resp.Choices = []canonical.Choice{{
			Message:      canonical.Message{Role: canonical.RoleAssistant},
			FinishReason: canonical.FinishContentFilter,
		}}
	}
	return resp, nil
}

// appendText adds text to the last part when it has the same type (Gemini splits text
// across parts freely), else starts a new part.
func appendText(parts []canonical.Part, typ canonical.PartType, text string) []canonical.Part {
	if n := len(parts); n > 0 && parts[n-1].Type == typ {
		parts[n-1].Text += text
		return parts
	}
	return append(parts, canonical.Part{Type: typ, Text: text})
}

// toolCall converts a functionCall part; n is the call's position in the response.
func toolCall(responseID string, n int, p Part) canonical.ToolCall {
	args := "{}"
	if a := bytes.TrimSpace(p.FunctionCall.Args); len(a) > 0 && a[0] == '{' {
		var buf bytes.Buffer
		if json.Compact(&buf, a) == nil {
			args = buf.String()
		}
	}
	id := p.FunctionCall.ID
	if id == "" {
		id = generatedCallID(responseID, n, p.FunctionCall.Name, []byte(args))
	}
	return canonical.ToolCall{ID: encodeCallID(id, p.ThoughtSignature), Name: p.FunctionCall.Name, Arguments: args}
}

// finishReason maps Gemini's finishReason. Gemini says STOP even when it called
// functions; canonical says tool_calls then.
func finishReason(r string, hasCalls bool) canonical.FinishReason {
	switch r {
	case "MAX_TOKENS":
		return canonical.FinishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
		"IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "LANGUAGE":
		return canonical.FinishContentFilter
	case "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS":
		return canonical.FinishError
	}
	if hasCalls {
		return canonical.FinishToolCalls
	}
	return canonical.FinishStop
}

// toCanonicalUsage maps usageMetadata. promptTokenCount already includes cached
// tokens; tool-use prompt tokens are input too. Gemini reports thinking
// (thoughtsTokenCount) apart from candidatesTokenCount and bills it as output, so
// OutputTokens is their sum and ReasoningTokens the thinking share.
func toCanonicalUsage(u *UsageMetadata) canonical.Usage {
	if u == nil {
		return canonical.Usage{}
	}
	return canonical.Usage{
		InputTokens:       u.PromptTokenCount + u.ToolUsePromptTokenCount,
		OutputTokens:      u.CandidatesTokenCount + u.ThoughtsTokenCount,
		CachedInputTokens: u.CachedContentTokenCount,
		ReasoningTokens:   u.ThoughtsTokenCount,
	}
}

// upstreamInvalid is the error for a success status with an unreadable body.
func upstreamInvalid(format string, args ...any) *canonical.Error {
	return &canonical.Error{
		Status:  502,
		Kind:    canonical.ErrUpstream,
		Message: "gemini: invalid upstream response: " + fmt.Sprintf(format, args...),
	}
}
