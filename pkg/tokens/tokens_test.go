package tokens

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llm-router/llm-router/pkg/canonical"
)

func TestEncodingFor(t *testing.T) {
	tests := []struct {
		model string
		want  Encoding
	}{
		{"gpt-4o", O200kBase},
		{"gpt-4o-mini-2024-07-18", O200kBase},
		{"chatgpt-4o-latest", O200kBase},
		{"gpt-4.1-nano", O200kBase},
		{"gpt-5", O200kBase},
		{"gpt-5-mini", O200kBase},
		{"o1", O200kBase},
		{"o3-mini", O200kBase},
		{"o4-mini", O200kBase},
		{"gpt-oss-120b", O200kBase},
		{"openai/gpt-4o", O200kBase},
		{"ft:gpt-4o-mini:acme::abc", O200kBase},
		{"GPT-4O", O200kBase},
		{"gpt-4", Cl100kBase},
		{"gpt-4-turbo", Cl100kBase},
		{"gpt-3.5-turbo", Cl100kBase},
		{"text-embedding-3-small", Cl100kBase},
		{"llama-3.1-70b", Cl100kBase},
		{"o1x-custom", Cl100kBase},
		{"", Cl100kBase},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			require.Equal(t, tt.want, EncodingFor(tt.model))
		})
	}
}

func TestCountText(t *testing.T) {
	c := NewCounter()
	tests := []struct {
		model, text string
		want        int
	}{
		// "tiktoken is great!" → ["t", "ik", "token", " is", " great", "!"] in cl100k_base
		// (OpenAI cookbook).
		{"gpt-4", "tiktoken is great!", 6},
		{"gpt-4", "", 0},
		{"gpt-4", "hello world", 2},
		{"gpt-4o", "hello world", 2},
		{"gpt-4o", "", 0},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, c.CountText(tt.model, tt.text), "%s %q", tt.model, tt.text)
	}
	// Invalid UTF-8 is counted, not rejected.
	require.Positive(t, c.CountText("gpt-4o", "\xff\xfe abc"))
}

// cookbookRequest is the example conversation of OpenAI's cookbook "How to count
// tokens with tiktoken", for which the API reports 129 prompt tokens on gpt-4/gpt-3.5
// and 124 on gpt-4o. The canonical form hoists system messages, so the named example
// turns are user messages here; "system" and "user" are one token each, so the count
// is unchanged.
func cookbookRequest() *canonical.Request {
	text := func(s string) []canonical.Part { return []canonical.Part{{Type: canonical.PartText, Text: s}} }
	return &canonical.Request{
		System: text("You are a helpful, pattern-following assistant that translates corporate jargon into plain English."),
		Messages: []canonical.Message{
			{Role: canonical.RoleUser, Name: "example_user", Content: text("New synergies will help drive top-line growth.")},
			{Role: canonical.RoleUser, Name: "example_assistant", Content: text("Things working well together will increase revenue.")},
			{Role: canonical.RoleUser, Name: "example_user", Content: text("Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.")},
			{Role: canonical.RoleUser, Name: "example_assistant", Content: text("Let's talk later when we're less busy about how to do better.")},
			{Role: canonical.RoleUser, Content: text("This late pivot means we don't have time to boil the ocean for the client deliverable.")},
		},
	}
}

func TestEstimateRequestMatchesCookbook(t *testing.T) {
	c := NewCounter()
	require.Equal(t, 129, c.EstimateRequest("gpt-4-0613", cookbookRequest()))
	require.Equal(t, 129, c.EstimateRequest("gpt-3.5-turbo", cookbookRequest()))
	require.Equal(t, 124, c.EstimateRequest("gpt-4o", cookbookRequest()))
	require.Equal(t, 124, c.EstimateRequest("gpt-4o-mini", cookbookRequest()))
}

func TestEstimateRequestParts(t *testing.T) {
	c := NewCounter()
	require.Zero(t, c.EstimateRequest("gpt-4o", nil))
	base := &canonical.Request{Messages: []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: "hi"}}}}}
	baseN := c.EstimateRequest("gpt-4o", base)
	// 3 (priming) + 3 (message) + 1 ("user") + 1 ("hi")
	require.Equal(t, 8, baseN)

	withImage := func(detail string) *canonical.Request {
		r := *base
		r.Messages = []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{
			{Type: canonical.PartText, Text: "hi"},
			{Type: canonical.PartImage, Image: &canonical.Image{URL: "https://x/y.png", Detail: detail}},
		}}}
		return &r
	}
	require.Equal(t, baseN+85, c.EstimateRequest("gpt-4o", withImage("low")))
	require.Equal(t, baseN+765, c.EstimateRequest("gpt-4o", withImage("")))

	toolTurn := &canonical.Request{Messages: []canonical.Message{
		{Role: canonical.RoleAssistant, ToolCalls: []canonical.ToolCall{{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}}},
		{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartToolResult, ToolResult: &canonical.ToolResult{
			ToolCallID: "call_1", Content: []canonical.Part{{Type: canonical.PartText, Text: "sunny"}}}}}},
	}}
	n := c.EstimateRequest("gpt-4o", toolTurn)
	want := 3 + (3 + 1 + 3 + c.CountText("gpt-4o", "get_weather") + c.CountText("gpt-4o", `{"city":"Paris"}`)) + (3 + 1 + c.CountText("gpt-4o", "sunny"))
	require.Equal(t, want, n)

	rf := *base
	rf.ResponseFormat = &canonical.ResponseFormat{Type: "json_schema", Name: "out", Schema: json.RawMessage(`{"type":"object"}`)}
	require.Greater(t, c.EstimateRequest("gpt-4o", &rf), baseN)
}

func TestEstimateTools(t *testing.T) {
	c := NewCounter()
	req := &canonical.Request{
		Messages: []canonical.Message{{Role: canonical.RoleUser, Content: []canonical.Part{{Type: canonical.PartText, Text: "hi"}}}},
		Tools: []canonical.Tool{{
			Name:        "get_current_weather",
			Description: "Get the current weather in a given location.",
			Parameters: json.RawMessage(`{"type":"object","properties":{
				"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},
				"unit":{"type":"string","description":"The unit of temperature to return","enum":["celsius","fahrenheit"]}},
				"required":["location"]}`),
		}},
	}
	n := c.EstimateRequest("gpt-4o", req)
	count := func(s string) int { return c.CountText("gpt-4o", s) }
	tools := 7 + count("get_current_weather:Get the current weather in a given location") +
		3 +
		3 + count("location:string:The city and state, e.g. San Francisco, CA") +
		3 - 3 + 3 + count("celsius") + 3 + count("fahrenheit") + count("unit:string:The unit of temperature to return") +
		12
	require.Equal(t, 8+tools, n)

	// cl100k models use a larger per-function overhead.
	require.Equal(t, c.EstimateRequest("gpt-4", req)-c.EstimateRequest("gpt-4", &canonical.Request{Messages: req.Messages}),
		10-7+tools+c.CountText("gpt-4", "x")*0+toolDiff(c, req))

	// A tool without properties or with an unparsable schema still costs something.
	req.Tools = []canonical.Tool{{Name: "ping"}, {Name: "bad", Parameters: json.RawMessage(`{nope`)}}
	require.Greater(t, c.EstimateRequest("gpt-4o", req), 8)
}

// toolDiff is the difference of the text counts of req's tool lines between
// cl100k_base and o200k_base, so the overhead comparison above is exact.
func toolDiff(c *Counter, req *canonical.Request) int {
	lines := []string{
		"get_current_weather:Get the current weather in a given location",
		"location:string:The city and state, e.g. San Francisco, CA",
		"celsius", "fahrenheit", "unit:string:The unit of temperature to return",
	}
	d := 0
	for _, l := range lines {
		d += c.CountText("gpt-4", l) - c.CountText("gpt-4o", l)
	}
	return d
}

func TestEstimateText(t *testing.T) {
	c := NewCounter()
	require.Equal(t, 4, c.EstimateText("text-embedding-3-small", []string{"hello world", "hello world"}))
	require.Zero(t, c.EstimateText("text-embedding-3-small", nil))
}

func TestCounterConcurrent(t *testing.T) {
	c := NewCounter()
	var wg sync.WaitGroup
	results := make([]int, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			model := "gpt-4o"
			if i%2 == 0 {
				model = "gpt-4"
			}
			results[i] = c.CountText(model, strings.Repeat("concurrency is not parallelism ", 20))
		}()
	}
	wg.Wait()
	for i := 2; i < len(results); i++ {
		require.Equal(t, results[i%2], results[i])
	}
}

func BenchmarkCountText(b *testing.B) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 20) // ~900 bytes
	for _, cached := range []bool{false, true} {
		name := "tokenizer"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			c := NewCounter()
			if !cached {
				c.cache = nil
			}
			c.CountText("gpt-4o", text)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				c.CountText("gpt-4o", text)
			}
		})
	}
}

func TestCountCache(t *testing.T) {
	c := NewCounter()
	uncached := NewCounter()
	uncached.cache = nil
	long := strings.Repeat("cache me if you can ", 20)
	require.GreaterOrEqual(t, len(long), minCachedLen)
	want := uncached.CountText("gpt-4o", long)
	require.Equal(t, want, c.CountText("gpt-4o", long))
	require.Equal(t, want, c.CountText("gpt-4o", long), "from the cache")
	// The encoding is part of the key.
	require.Equal(t, uncached.CountText("gpt-4", long), c.CountText("gpt-4", long))

	// Rotation keeps recent entries and bounds memory.
	cc := newCountCache()
	for i := 0; i < 3*cacheShardSize*cacheShards; i++ {
		cc.put(uint64(i), i)
	}
	for i := range cc.shards {
		sh := &cc.shards[i]
		require.LessOrEqual(t, len(sh.cur), cacheShardSize)
		require.LessOrEqual(t, len(sh.old), cacheShardSize)
	}
	last := uint64(3*cacheShardSize*cacheShards - 1)
	n, ok := cc.get(last)
	require.True(t, ok)
	require.Equal(t, int(last), n)
	_, ok = cc.get(0)
	require.False(t, ok, "the oldest entries were dropped")

	// An entry found in the old generation is promoted.
	cc = newCountCache()
	sh := &cc.shards[0]
	sh.old = map[uint64]int32{cacheShards: 5}
	n, ok = cc.get(cacheShards)
	require.True(t, ok)
	require.Equal(t, 5, n)
	require.Contains(t, sh.cur, uint64(cacheShards))
}

func BenchmarkEstimateRequest(b *testing.B) {
	c := NewCounter()
	req := cookbookRequest()
	c.EstimateRequest("gpt-4o", req)
	b.ReportAllocs()
	for b.Loop() {
		c.EstimateRequest("gpt-4o", req)
	}
}

func FuzzEstimateRequest(f *testing.F) {
	f.Add([]byte(`{"type":"object","properties":{"a":{"type":"string","enum":["x",1,null]}}}`), "hello", "gpt-4o")
	f.Add([]byte(`{"properties":{"b":{"type":["string","null"],"description":"d."}}}`), "\xff", "gpt-4")
	f.Add([]byte(`nope`), "", "")
	c := NewCounter()
	f.Fuzz(func(t *testing.T, schema []byte, text, model string) {
		req := &canonical.Request{
			System:   []canonical.Part{{Type: canonical.PartText, Text: text}},
			Messages: []canonical.Message{{Role: canonical.RoleUser, Name: text, Content: []canonical.Part{{Type: canonical.PartText, Text: text}}}},
			Tools:    []canonical.Tool{{Name: text, Description: text, Parameters: json.RawMessage(schema)}},
		}
		n := c.EstimateRequest(model, req)
		if n < c.CountText(model, text) {
			t.Fatalf("estimate %d below the text's own count", n)
		}
	})
}
