// Package config owns Porthouse's server configuration: the one plain Config
// struct, its defaults, loading it from a TOML file, PORTHOUSE_* environment
// variables and command-line flags (including @file argument files), and
// validating it.
//
// Layers apply in a fixed order, later ones winning:
//
//	Default() → TOML file (-config / PORTHOUSE_CONFIG) → environment → flags
//
// then Validate reports every problem at once, each naming its field by its
// TOML key. The admin password comes only from PORTHOUSE_ADMIN_PASSWORD and is
// never printed (see Secret).
//
// A Config is a value: it is passed by value, never mutated after start, and a
// reload builds a new one and swaps it whole (Reloadable tells which changes
// apply live). The package owns no goroutines and no global state; all
// functions are safe for concurrent use.
package config
