package pricing

import "strings"

// Model-id normalisation. Providers report the same model under many spellings:
// OpenAI snapshots ("gpt-4o-2024-08-06"), Anthropic dates ("claude-sonnet-4-20250514",
// Vertex "claude-sonnet-4@20250514"), Gemini resource names ("models/gemini-2.5-pro"),
// Bedrock inference profiles ("us.anthropic.claude-sonnet-4-20250514-v1:0"), Cohere
// month stamps ("command-r-08-2024") and "-latest" aliases. Each helper below strips one
// such decoration by re-slicing its argument, so normalisation never allocates.
// (Lower-casing allocates only for ids that have upper-case letters; providers report
// lower-case ids.)

// regionPrefixes are Bedrock cross-region inference profile prefixes.
var regionPrefixes = [...]string{"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.", "uk."}

// stripPrefix removes a resource path ("models/x", "publishers/google/models/x") or a
// Bedrock region prefix ("us.anthropic.x").
func stripPrefix(m string) string {
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		return m[i+1:]
	}
	for _, p := range regionPrefixes {
		if strings.HasPrefix(m, p) && strings.IndexByte(m[len(p):], '.') > 0 {
			return m[len(p):]
		}
	}
	return m
}

// suffixStrippers run in order; a lookup is tried after each one that changes the id.
var suffixStrippers = [...]func(string) string{stripColonVersion, stripVersion, stripDate}

// stripColonVersion removes a Bedrock ":0" style suffix.
func stripColonVersion(m string) string {
	if i := strings.LastIndexByte(m, ':'); i > 0 {
		return m[:i]
	}
	return m
}

// stripVersion removes a Bedrock "-v1" style suffix.
func stripVersion(m string) string {
	i := strings.LastIndex(m, "-v")
	if i <= 0 || i+2 == len(m) || !allDigits(m[i+2:]) {
		return m
	}
	return m[:i]
}

// stripDate removes one date or "latest" suffix: "@20250514", "-20250514",
// "-2024-08-06", "-08-2024", "-latest".
func stripDate(m string) string {
	if i := strings.LastIndexByte(m, '@'); i > 0 {
		return m[:i]
	}
	if s, ok := strings.CutSuffix(m, "-latest"); ok && s != "" {
		return s
	}
	n := len(m)
	// -YYYY-MM-DD
	if n > 11 && m[n-11] == '-' && m[n-6] == '-' && m[n-3] == '-' && isDate(m[n-10:n-6], m[n-5:n-3], m[n-2:]) {
		return m[:n-11]
	}
	// -YYYYMMDD
	if n > 9 && m[n-9] == '-' && isDate(m[n-8:n-4], m[n-4:n-2], m[n-2:]) {
		return m[:n-9]
	}
	// -MM-YYYY (Cohere)
	if n > 8 && m[n-8] == '-' && m[n-5] == '-' && isDate(m[n-4:], m[n-7:n-5], "01") {
		return m[:n-8]
	}
	return m
}

// isDate reports whether the digit strings are a plausible year (20xx), month and day.
func isDate(year, month, day string) bool {
	if len(year) != 4 || year[:2] != "20" || !allDigits(year) || !allDigits(month) || !allDigits(day) {
		return false
	}
	mm := int(month[0]-'0')*10 + int(month[1]-'0')
	dd := int(day[0]-'0')*10 + int(day[1]-'0')
	return mm >= 1 && mm <= 12 && dd >= 1 && dd <= 31
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
