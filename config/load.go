package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"
)

// HelpError is returned by Load when the arguments ask for help (-h, -help,
// --help). It unwraps to flag.ErrHelp; its message is the usage text, for
// main to print.
type HelpError struct {
	// Usage lists the flags, their defaults and environment variables.
	Usage string
}

// Error returns the usage text.
func (e *HelpError) Error() string { return e.Usage }

// Unwrap returns flag.ErrHelp.
func (e *HelpError) Unwrap() error { return flag.ErrHelp }

// Load builds the server configuration from a subcommand's arguments (those
// after "run" or "supervise") and an environment lookup (os.Getenv in main):
// Default(), then the TOML file named by -config or PORTHOUSE_CONFIG, then
// PORTHOUSE_* variables, then flags, then Validate. Arguments of the form
// @path are expanded first (see ExpandArgFiles).
//
// On error the returned Config holds what was loaded so far and must not be
// used to start a server. Errors from Validate list every problem.
func Load(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("porthouse", flag.ContinueOnError)
	return LoadFlagSet(fs, args, getenv)
}

// LoadFlagSet is Load with the caller's flag set, which may already define
// flags of its own; after it returns, fs has been parsed and those flags hold
// their values. Load's flags are registered on fs, so fs must not define them.
func LoadFlagSet(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	cfg := Default()
	args, err := ExpandArgFiles(args)
	if err != nil {
		return cfg, err
	}

	// Parse flags into a layer of their own; they are applied last, so
	// only the flags actually given override file and environment.
	layer := Default()
	Register(fs, &layer)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, &HelpError{Usage: usage(fs)}
		}
		return cfg, fmt.Errorf("flags: %w", err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("flags: unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	cfg.ConfigFile = getenv(envConfig)
	if given[flagConfig] {
		cfg.ConfigFile = layer.ConfigFile
	}
	if cfg.ConfigFile != "" {
		if err := loadFile(&cfg, cfg.ConfigFile); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	for _, f := range fields {
		if given[f.flag] {
			// Round-trip through the flag's text; every Value's
			// String is parseable by its Set.
			if err := f.value(&cfg).Set(f.value(&layer).String()); err != nil {
				return cfg, fmt.Errorf("%s: flag -%s: %w", f.key, f.flag, err)
			}
		}
	}
	return cfg, cfg.Validate()
}

// loadFile decodes the TOML file at path over c. Keys the Config does not
// have are errors, each named.
func loadFile(c *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	var errs []error
	for _, key := range md.Undecoded() {
		switch name := key.String(); name {
		case "admin_password":
			errs = append(errs, fmt.Errorf("config file %s: admin_password may only be set in the environment (%s)",
				path, envAdminPassword))
		default:
			errs = append(errs, fmt.Errorf("config file %s: unknown key %q", path, name))
		}
	}
	return errors.Join(errs...)
}

// applyEnv applies every non-empty PORTHOUSE_* variable over c, and returns
// all malformed values at once.
func applyEnv(c *Config, getenv func(string) string) error {
	var errs []error
	for _, f := range fields {
		v := getenv(f.env)
		if v == "" {
			continue
		}
		if err := f.value(c).Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", f.key, f.env, err))
		}
	}
	if v := getenv(envAdminPassword); v != "" {
		c.AdminPassword = Secret(v)
	}
	return errors.Join(errs...)
}

// usage renders fs's flags for HelpError.
func usage(fs *flag.FlagSet) string {
	var b bytes.Buffer
	b.WriteString("Flags (also read from @file arguments, one flag per line):\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	b.WriteString("\nEnvironment: " + envAdminPassword + " sets the first admin password.\n")
	return b.String()
}

// maxArgFileDepth bounds @file nesting, so a file that names itself fails
// instead of looping.
const maxArgFileDepth = 8

// ExpandArgFiles replaces every argument "@path" with the arguments read
// from the file at path, and returns the rest unchanged. Arguments after "--"
// are not expanded.
//
// The file holds one flag per line. Blank lines and lines starting with #
// are skipped; surrounding spaces are trimmed. A line "-name value" becomes
// the single argument "-name=value" (so the value may hold spaces, and bool
// flags take "-name false"); "-name=value", "-name" and lines not starting
// with "-" pass as they are. A line "@other" expands that file too, up to a
// depth of 8; a file that includes itself is an error.
func ExpandArgFiles(args []string) ([]string, error) {
	return expandArgs(args, nil)
}

func expandArgs(args []string, stack []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if arg == "--" {
			return append(out, args[i:]...), nil
		}
		if len(arg) < 2 || arg[0] != '@' {
			out = append(out, arg)
			continue
		}
		path := arg[1:]
		if len(stack) >= maxArgFileDepth {
			return nil, fmt.Errorf("argument file %s: nested more than %d deep", path, maxArgFileDepth)
		}
		for _, p := range stack {
			if p == path {
				return nil, fmt.Errorf("argument file %s: includes itself", path)
			}
		}
		lines, err := readArgFile(path)
		if err != nil {
			return nil, err
		}
		expanded, err := expandArgs(lines, append(stack, path))
		if err != nil {
			return nil, err
		}
		out = append(out, expanded...)
	}
	return out, nil
}

// readArgFile reads the arguments of one @file, without expanding nested
// @ lines.
func readArgFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("argument file: %w", err)
	}
	var args []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '-' {
			if i := strings.IndexFunc(line, unicode.IsSpace); i > 0 && !strings.Contains(line[:i], "=") {
				line = line[:i] + "=" + strings.TrimSpace(line[i:])
			}
		}
		args = append(args, line)
	}
	return args, nil
}
