package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	configv1 "github.com/llm-router/llm-router/proto/llmrouter/config/v1"
)

// Redacted replaces secret values in Redact's output.
const Redacted = "[redacted]"

// maxSecretFileSize bounds a "file:" secret; keys and tokens are tiny.
const maxSecretFileSize = 1 << 20

// filePrefix marks a secret reference to a file.
const filePrefix = "file:"

// ResolveSecret turns a secret reference into its value:
//
//   - "file:/path" (or "file:///path") is the file's content without trailing
//     newlines;
//   - "${NAME}" is the environment variable NAME, which must be set and
//     non-empty; references may be embedded ("Bearer ${TOKEN}") and "$${"
//     stands for a literal "${";
//   - anything else is returned as is (a literal secret, discouraged).
//
// env looks up environment variables (nil means os.Getenv). Errors name the
// variable or file, never the value.
func ResolveSecret(ref string, env func(string) string) (string, error) {
	if env == nil {
		env = os.Getenv
	}
	if path, ok := strings.CutPrefix(ref, filePrefix); ok {
		return readSecretFile(filePath(path))
	}
	return expand(ref, env, true)
}

// filePath accepts both "file:/p" and the URL form "file:///p".
func filePath(p string) string {
	if strings.HasPrefix(p, "///") {
		return p[2:]
	}
	return p
}

func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", errors.New(`"file:" reference has no path`)
	}
	data, err := readFileLimit(path, maxSecretFileSize)
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}

// expand substitutes ${NAME} references in s. With lookup false it only checks
// the syntax. Messages never include s, which may be a literal secret.
func expand(s string, env func(string) string, lookup bool) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New(`malformed secret reference: "${" without a closing "}"`)
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				return "", errors.New("malformed secret reference: the name inside ${...} must be letters, digits and underscores, not starting with a digit")
			}
			if lookup {
				v := env(name)
				if v == "" {
					return "", fmt.Errorf("environment variable %s is not set or empty", name)
				}
				b.WriteString(v)
			}
			i += end + 3
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

func validEnvName(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for _, c := range []byte(name) {
		if c != '_' && !isAlnum(c) {
			return false
		}
	}
	return true
}

// checkReference validates the syntax of a secret reference without resolving it.
func checkReference(ref string) error {
	if path, ok := strings.CutPrefix(ref, filePrefix); ok {
		if filePath(path) == "" {
			return errors.New(`"file:" reference has no path`)
		}
		return nil
	}
	_, err := expand(ref, nil, false)
	return err
}

// isReference reports whether s is exactly one reference ("${NAME}" or
// "file:..."), which names where a secret lives without revealing it.
func isReference(s string) bool {
	if strings.HasPrefix(s, filePrefix) {
		return true
	}
	name, ok := strings.CutPrefix(s, "${")
	if !ok {
		return false
	}
	name, ok = strings.CutSuffix(name, "}")
	return ok && validEnvName(name)
}

// isSecret reports whether fd carries the (llmrouter.config.v1.secret) option.
func isSecret(fd protoreflect.FieldDescriptor) bool {
	opts := fd.Options()
	if opts == nil {
		return false
	}
	v, _ := proto.GetExtension(opts, configv1.E_Secret).(bool)
	return v
}

// rangeSecrets calls fn for every non-empty string held by a secret field of m,
// in field order (map keys sorted), and stores what fn returns in its place.
func rangeSecrets(m protoreflect.Message, path string, fn func(path, value string) string) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		fpath := joinField(path, string(fd.Name()))
		secret := isSecret(fd)
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			keys := make([]protoreflect.MapKey, 0, mp.Len())
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			slices.SortFunc(keys, func(a, b protoreflect.MapKey) int { return strings.Compare(a.String(), b.String()) })
			for _, k := range keys {
				kpath := joinKey(fpath, k.String())
				switch {
				case fd.MapValue().Message() != nil:
					rangeSecrets(mp.Get(k).Message(), kpath, fn)
				case secret && fd.MapValue().Kind() == protoreflect.StringKind:
					if s := mp.Get(k).String(); s != "" {
						mp.Set(k, protoreflect.ValueOfString(fn(kpath, s)))
					}
				}
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := range l.Len() {
				epath := joinIndex(fpath, j)
				switch {
				case fd.Message() != nil:
					rangeSecrets(l.Get(j).Message(), epath, fn)
				case secret && fd.Kind() == protoreflect.StringKind:
					if s := l.Get(j).String(); s != "" {
						l.Set(j, protoreflect.ValueOfString(fn(epath, s)))
					}
				}
			}
		case fd.Message() != nil:
			rangeSecrets(m.Mutable(fd).Message(), fpath, fn)
		case secret && fd.Kind() == protoreflect.StringKind:
			if s := m.Get(fd).String(); s != "" {
				m.Set(fd, protoreflect.ValueOfString(fn(fpath, s)))
			}
		}
	}
}

// Redact returns a deep copy of cfg for logging: every secret field (API keys,
// header values, AWS credentials, static keys) that holds a literal value is
// replaced by "[redacted]". Fields that hold exactly one reference ("${NAME}",
// "file:/path") are kept, since they say where the secret lives, not what it
// is. Paths such as gcp.credentials_file are kept.
func Redact(cfg *configv1.Config) *configv1.Config {
	if cfg == nil {
		return nil
	}
	out := proto.Clone(cfg).(*configv1.Config)
	rangeSecrets(out.ProtoReflect(), "", func(_, v string) string {
		if isReference(v) {
			return v
		}
		return Redacted
	})
	return out
}

// ResolveAll returns a deep copy of cfg with every secret reference replaced by
// its value (see ResolveSecret) and environment references in credential file
// paths expanded. The copy holds secrets: never log it, use Redact. Failures
// are reported together as a *ValidationError.
func ResolveAll(cfg *configv1.Config, env func(string) string) (*configv1.Config, error) {
	if env == nil {
		env = os.Getenv
	}
	out := proto.Clone(cfg).(*configv1.Config)
	problems := resolveInto(out, env)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return out, nil
}

// CheckSecrets reports every secret reference in cfg that does not resolve
// now, and credential files that cannot be read. It does not modify cfg.
func CheckSecrets(cfg *configv1.Config, env func(string) string) []Problem {
	if env == nil {
		env = os.Getenv
	}
	return resolveInto(proto.Clone(cfg).(*configv1.Config), env)
}

func resolveInto(cfg *configv1.Config, env func(string) string) []Problem {
	var problems []Problem
	rangeSecrets(cfg.ProtoReflect(), "", func(path, v string) string {
		r, err := ResolveSecret(v, env)
		switch {
		case err != nil:
			problems = append(problems, Problem{Path: path, Message: err.Error()})
		case strings.ContainsAny(r, "\r\n\x00"):
			problems = append(problems, Problem{Path: path, Message: "resolved value contains a line break or NUL"})
		}
		return r
	})
	for i, p := range cfg.GetProviders() {
		gcp := p.GetGcp()
		if gcp.GetCredentialsFile() == "" {
			continue
		}
		path := joinField(joinIndex("providers", i), "gcp.credentials_file")
		resolved, err := resolvePath(gcp.GetCredentialsFile(), env)
		if err == nil {
			_, err = os.Stat(resolved)
		}
		if err != nil {
			problems = append(problems, Problem{Path: path, Message: err.Error()})
			continue
		}
		gcp.CredentialsFile = resolved
	}
	return problems
}

// checkPathReference validates the syntax of a file path reference.
func checkPathReference(ref string) error {
	if p, ok := strings.CutPrefix(ref, filePrefix); ok {
		ref = filePath(p)
	}
	_, err := expand(ref, nil, false)
	return err
}

// resolvePath expands a reference to a file path: "file:" is optional and
// ${NAME} references are substituted; the file itself is not read.
func resolvePath(ref string, env func(string) string) (string, error) {
	if p, ok := strings.CutPrefix(ref, filePrefix); ok {
		ref = filePath(p)
	}
	return expand(ref, env, true)
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
