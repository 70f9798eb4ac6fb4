package openai

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/llm-router/llm-router/pkg/canonical"
)

// DecodeChatResponse decodes a non-streamed Chat Completions response.
func DecodeChatResponse(body []byte) (*canonical.Response, error) {
	var w ChatResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("decode openai chat response: %w", err)
	}
	resp := &canonical.Response{ID: w.ID, Model: w.Model, Created: w.Created}
	if w.Usage != nil {
		resp.Usage = usageToCanonical(w.Usage)
	}
	for _, c := range w.Choices {
		msg := canonical.Message{Role: canonical.RoleAssistant}
		if r := firstNonEmpty(c.Message.ReasoningContent, c.Message.Reasoning); r != "" {
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartThinking, Text: r})
		}
		if s := c.Message.Content.String(); s != "" {
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartText, Text: s})
		} else if c.Message.Refusal != nil && *c.Message.Refusal != "" {
			msg.Content = append(msg.Content, canonical.Part{Type: canonical.PartText, Text: *c.Message.Refusal})
		}
		for _, tc := range c.Message.ToolCalls {
			msg.ToolCalls = append(msg.ToolCalls, canonical.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		ch := canonical.Choice{Index: c.Index, Message: msg}
		if c.FinishReason != nil {
			ch.FinishReason = finishToCanonical(*c.FinishReason)
			if c.Index == 0 {
				resp.ProviderFinishReason = *c.FinishReason
			}
		}
		resp.Choices = append(resp.Choices, ch)
	}
	return resp, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// finishToCanonical maps OpenAI's and compatible servers' finish reasons.
func finishToCanonical(s string) canonical.FinishReason {
	switch s {
	case "stop", "eos_token", "stop_sequence", "end_turn", "eos":
		return canonical.FinishStop
	case "length", "max_tokens", "model_length":
		return canonical.FinishLength
	case "tool_calls", "function_call", "tool_use":
		return canonical.FinishToolCalls
	case "content_filter":
		return canonical.FinishContentFilter
	case "error":
		return canonical.FinishError
	case "":
		return ""
	default:
		return canonical.FinishStop
	}
}

// finishFromCanonical renders a finish reason in OpenAI's vocabulary, which has no
// "error": a generation that ended in an error is reported as stopped.
func finishFromCanonical(f canonical.FinishReason) string {
	switch f {
	case canonical.FinishLength, canonical.FinishToolCalls, canonical.FinishContentFilter:
		return string(f)
	default:
		return "stop"
	}
}

func usageToCanonical(u *Usage) canonical.Usage {
	out := canonical.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
	if u.PromptTokensDetails != nil {
		out.CachedInputTokens = u.PromptTokensDetails.CachedTokens
	}
	if out.CachedInputTokens == 0 {
		out.CachedInputTokens = u.PromptCacheHitTokens
	}
	if u.CompletionTokensDetails != nil {
		out.ReasoningTokens = u.CompletionTokensDetails.ReasoningTokens
	}
	return out
}

func usageFromCanonical(u canonical.Usage) *Usage {
	return &Usage{
		PromptTokens:            u.InputTokens,
		CompletionTokens:        u.OutputTokens,
		TotalTokens:             u.TotalTokens(),
		PromptTokensDetails:     &PromptTokensDetails{CachedTokens: u.CachedInputTokens},
		CompletionTokensDetails: &CompletionTokensDetails{ReasoningTokens: u.ReasoningTokens},
	}
}

// EncodeChatResponse renders resp as an OpenAI "chat.completion". Thinking is
// returned as message.reasoning_content, the field DeepSeek introduced and most
// OpenAI-compatible clients read.
func EncodeChatResponse(resp *canonical.Response) ([]byte, error) {
	w := ChatResponse{
		ID:      resp.ID,
		Object:  "chat.completion",
		Created: resp.Created,
		Model:   resp.Model,
		Choices: make([]Choice, 0, len(resp.Choices)),
		Usage:   usageFromCanonical(resp.Usage),
	}
	if w.ID == "" {
		w.ID = "chatcmpl-llmrouter"
	}
	if w.Created == 0 {
		w.Created = time.Now().Unix()
	}
	for _, c := range resp.Choices {
		m := Message{Role: "assistant"}
		var text, thinking strings.Builder
		hasText := false
		for _, p := range c.Message.Content {
			switch p.Type {
			case canonical.PartText:
				text.WriteString(p.Text)
				hasText = true
			case canonical.PartThinking:
				thinking.WriteString(p.Text)
			}
		}
		if hasText || len(c.Message.ToolCalls) == 0 {
			s := text.String()
			m.Content = Content{Text: &s}
		}
		m.ReasoningContent = thinking.String()
		for _, tc := range c.Message.ToolCalls {
			m.ToolCalls = append(m.ToolCalls, ToolCall{ID: tc.ID, Type: "function", Function: FunctionCall{Name: tc.Name, Arguments: tc.Arguments}})
		}
		fr := finishFromCanonical(c.FinishReason)
		w.Choices = append(w.Choices, Choice{Index: c.Index, Message: m, FinishReason: &fr})
	}
	out, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encode openai chat response: %w", err)
	}
	return out, nil
}
