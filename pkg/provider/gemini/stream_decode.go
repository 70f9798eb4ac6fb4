package gemini

import "github.com/llm-router/llm-router/pkg/provider/internal/jsonwire"

// chunkStore is decoder-owned storage for the fast chunk decoder: the decoded chunk,
// and the Content values its candidates point at, are reused from chunk to chunk.
type chunkStore struct {
	gr       GenerateContentResponse
	contents []Content
	usage    UsageMetadata
}

// decodeChunk is the stream decoder's fast path: it decodes a chunk of text and
// thought parts as json.Unmarshal would, as far as event() looks, without reflection;
// responseId and modelVersion are only validated once the stream has started. ok is
// false for anything else (function calls, inline data, prompt feedback, errors, a
// chunk wrapped in an array, syntax or type errors, duplicate or case-folded keys),
// which event() decodes with encoding/json. The result is valid until the next call.
func (d *streamDecoder) decodeChunk(data []byte) (*GenerateContentResponse, bool) {
	s := &d.store
	gr := &s.gr
	cands := gr.Candidates[:0]
	*gr = GenerateContentResponse{}
	r := jsonwire.NewReader(data)
	if !r.Open('{') {
		return nil, false
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "candidates" && seen.First(0):
			if r.Null() {
				continue
			}
			if !r.Open('[') {
				return nil, false
			}
			for j := 0; r.More(']', j); j++ {
				if j >= maxCandidates {
					return nil, false
				}
				cands = append(cands, Candidate{})
				d.decodeCandidate(&r, &cands[j], j)
			}
			if cands == nil {
				cands = []Candidate{} // as encoding/json decodes []: empty, not nil
			}
			gr.Candidates = cands
		case k == "usageMetadata" && seen.First(1):
			if !r.Null() {
				s.usage = UsageMetadata{}
				gr.UsageMetadata = &s.usage
				decodeUsage(&r, &s.usage)
			}
		case k == "modelVersion" && seen.First(2):
			d.envelopeString(&r, &gr.ModelVersion)
		case k == "responseId" && seen.First(3):
			d.envelopeString(&r, &gr.ResponseID)
		case k == "promptFeedback" && seen.First(4), k == "error" && seen.First(5):
			if !r.Null() {
				return nil, false
			}
		case jsonwire.MayFold(key, isChunkField):
			return nil, false
		default:
			r.Skip()
		}
	}
	if !r.End() {
		return nil, false
	}
	return gr, true
}

// maxCandidates bounds the reused candidate storage.
const maxCandidates = 64

func isChunkField(k string) bool {
	switch k {
	case "candidates", "usagemetadata", "modelversion", "responseid", "promptfeedback", "error":
		return true
	}
	return false
}

// envelopeString reads responseId or modelVersion, or only validates it once the
// stream has started (event() reads them for the start event only).
func (d *streamDecoder) envelopeString(r *jsonwire.Reader, dst *string) {
	switch {
	case r.Null():
	case d.started:
		r.StringSpan()
	default:
		*dst = r.String()
	}
}

func (d *streamDecoder) decodeCandidate(r *jsonwire.Reader, c *Candidate, j int) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "content" && seen.First(0):
			if r.Null() {
				continue
			}
			s := &d.store
			for len(s.contents) <= j {
				s.contents = append(s.contents, Content{})
			}
			c.Content = &s.contents[j]
			decodeContent(r, c.Content)
		case k == "finishReason" && seen.First(1):
			if !r.Null() {
				c.FinishReason = r.String()
			}
		case k == "index" && seen.First(2):
			if !r.Null() {
				c.Index = int(r.Int())
			}
		case jsonwire.MayFold(key, func(k string) bool { return k == "content" || k == "finishreason" || k == "index" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

// decodeContent reads a candidate's content into reused storage.
func decodeContent(r *jsonwire.Reader, c *Content) {
	parts := c.Parts[:0]
	*c = Content{}
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "role" && seen.First(0):
			if r.Null() {
				continue
			}
			if s := r.StringSpan(); r.Equal(s, "model") {
				c.Role = "model"
			} else {
				c.Role = r.Text(s)
			}
		case k == "parts" && seen.First(1):
			if r.Null() || !r.Open('[') {
				continue
			}
			for j := 0; r.More(']', j); j++ {
				parts = append(parts, Part{})
				decodePart(r, &parts[j])
			}
			if parts == nil {
				parts = []Part{} // as encoding/json decodes []: empty, not nil
			}
			c.Parts = parts
		case jsonwire.MayFold(key, func(k string) bool { return k == "role" || k == "parts" }):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

// decodePart reads a text or thought part; any other datum fails the fast path.
func decodePart(r *jsonwire.Reader, p *Part) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		switch k := string(key); {
		case k == "text" && seen.First(0):
			if !r.Null() {
				p.Text = r.String()
			}
		case k == "thought" && seen.First(1):
			if !r.Null() {
				p.Thought = r.Bool()
			}
		case k == "thoughtSignature" && seen.First(2):
			if !r.Null() {
				p.ThoughtSignature = r.String()
			}
		case k == "inlineData", k == "fileData", k == "functionCall", k == "functionResponse":
			r.Fail()
		case jsonwire.MayFold(key, isPartField):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

func isPartField(k string) bool {
	switch k {
	case "text", "thought", "thoughtsignature", "inlinedata", "filedata", "functioncall", "functionresponse":
		return true
	}
	return false
}

// decodeUsage reads usageMetadata's counts.
func decodeUsage(r *jsonwire.Reader, u *UsageMetadata) {
	if !r.Open('{') {
		return
	}
	var seen jsonwire.Seen
	for i := 0; r.More('}', i); i++ {
		key := r.Key()
		var dst *int
		f := 0
		switch string(key) {
		case "promptTokenCount":
			dst, f = &u.PromptTokenCount, 0
		case "candidatesTokenCount":
			dst, f = &u.CandidatesTokenCount, 1
		case "cachedContentTokenCount":
			dst, f = &u.CachedContentTokenCount, 2
		case "thoughtsTokenCount":
			dst, f = &u.ThoughtsTokenCount, 3
		case "toolUsePromptTokenCount":
			dst, f = &u.ToolUsePromptTokenCount, 4
		case "totalTokenCount":
			dst, f = &u.TotalTokenCount, 5
		}
		switch {
		case dst != nil && seen.First(f):
			if !r.Null() {
				*dst = int(r.Int())
			}
		case dst != nil || jsonwire.MayFold(key, isUsageField):
			r.Fail()
		default:
			r.Skip()
		}
	}
}

func isUsageField(k string) bool {
	switch k {
	case "prompttokencount", "candidatestokencount", "cachedcontenttokencount",
		"thoughtstokencount", "tooluseprompttokencount", "totaltokencount":
		return true
	}
	return false
}
