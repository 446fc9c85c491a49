package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("5s", "720h")
// in TOML, the environment and flags. It implements encoding.TextUnmarshaler
// and flag.Value.
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// Set parses s as a Go duration string; it makes *Duration a flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like 5s or 1m30s", s)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(text []byte) error { return d.Set(string(text)) }

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Secret is a string that never prints: every fmt verb, text and JSON
// marshalling show it as "[redacted]" (or "" when empty). Use Reveal to read
// it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string { return s.shown() }

// GoString returns the redacted form quoted, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.shown()) }

// Format writes the redacted form for every verb, so no format string can
// print the secret.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.shown())
}

// MarshalText returns the redacted form, so encoders never write the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }
