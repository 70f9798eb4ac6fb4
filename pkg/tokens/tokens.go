// Package tokens counts tokens the way OpenAI's tokenizers do, so the gateway can
// enforce token limits before a request goes upstream and estimate usage when a
// provider reports none.
//
// Counts are exact for OpenAI models (o200k_base for the gpt-4o, gpt-4.1, gpt-4.5,
// gpt-5, gpt-oss and o-series families; cl100k_base otherwise) and an estimate for
// other vendors' models, whose tokenizers are not public or not bundled.
package tokens

import (
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// Encoding names a BPE vocabulary.
type Encoding string

// Encodings the Counter uses.
const (
	O200kBase  Encoding = "o200k_base"
	Cl100kBase Encoding = "cl100k_base"
)

// Counter counts tokens. It loads each vocabulary once, on first use, and is safe for
// concurrent use. Create one per process and share it: loading a vocabulary takes tens
// of milliseconds and tens of megabytes.
type Counter struct {
	o200k  lazyCodec
	cl100k lazyCodec
	cache  *countCache
}

type lazyCodec struct {
	once  sync.Once
	codec tokenizer.Codec
	enc   Encoding
}

func (l *lazyCodec) get() tokenizer.Codec {
	l.once.Do(func() {
		// Get only fails for unknown encodings; both encodings used here are bundled.
		c, err := tokenizer.Get(tokenizer.Encoding(l.enc))
		if err == nil {
			l.codec = c
		}
	})
	return l.codec
}

// NewCounter returns a Counter. Vocabularies load lazily.
func NewCounter() *Counter {
	return &Counter{
		o200k:  lazyCodec{enc: O200kBase},
		cl100k: lazyCodec{enc: Cl100kBase},
		cache:  newCountCache(),
	}
}

// o200kPrefixes are model-name prefixes of families tokenized with o200k_base.
var o200kPrefixes = [...]string{
	"gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-oss", "o1", "o3", "o4",
	"codex-", "omni-moderation", "computer-use",
}

// EncodingFor returns the encoding used for model. Provider prefixes ("openai/gpt-4o"
// as OpenRouter names it) and fine-tune prefixes ("ft:gpt-4o-mini:org::id") are
// ignored; unknown models use cl100k_base, which is a reasonable estimate for most
// modern BPE tokenizers.
func EncodingFor(model string) Encoding {
	m := strings.ToLower(model)
	m = strings.TrimPrefix(m, "ft:")
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	for _, p := range o200kPrefixes {
		if strings.HasPrefix(m, p) {
			// "o1"/"o3"/"o4" must be the whole family name, not e.g. "o1x-custom".
			if len(p) == 2 && len(m) > 2 && m[2] != '-' {
				continue
			}
			return O200kBase
		}
	}
	return Cl100kBase
}

// encoder counts with one encoding, through the cache.
type encoder struct {
	enc   Encoding
	codec tokenizer.Codec
	cache *countCache
}

func (c *Counter) encoder(model string) encoder {
	enc := EncodingFor(model)
	e := encoder{enc: enc, cache: c.cache}
	if enc == O200kBase {
		e.codec = c.o200k.get()
	} else {
		e.codec = c.cl100k.get()
	}
	return e
}

func (e encoder) count(s string) int {
	if len(s) < minCachedLen || e.cache == nil {
		return countWith(e.codec, s)
	}
	k := e.cache.key(e.enc, s)
	if n, ok := e.cache.get(k); ok {
		return n
	}
	n := countWith(e.codec, s)
	e.cache.put(k, n)
	return n
}

// CountText returns the number of tokens in s for model.
func (c *Counter) CountText(model, s string) int {
	if s == "" {
		return 0
	}
	return c.encoder(model).count(s)
}

func countWith(codec tokenizer.Codec, s string) int {
	if s == "" {
		return 0
	}
	if codec != nil {
		if n, err := codec.Count(s); err == nil {
			return n
		}
	}
	// Only reachable if the tokenizer fails (it has no timeout configured, so in
	// practice never); fall back to OpenAI's rule of thumb of four bytes a token.
	return (len(s) + 3) / 4
}

// EstimateText returns the token count of embedding inputs: the sum of each input's
// tokens, with no per-item overhead (OpenAI bills embeddings that way).
func (c *Counter) EstimateText(model string, inputs []string) int {
	e := c.encoder(model)
	n := 0
	for _, s := range inputs {
		n += e.count(s)
	}
	return n
}
