package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one configuration problem, naming the field by its TOML key.
type FieldError struct {
	Field   string
	Problem string
}

// Error returns "field: problem".
func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// validator collects FieldErrors.
type validator struct{ errs []error }

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(field string, n int) {
	if n <= 0 {
		v.add(field, "must be > 0, got %d", n)
	}
}

func (v *validator) positiveDuration(field string, d Duration) {
	if d <= 0 {
		v.add(field, "must be > 0, got %s", d)
	}
}

func (v *validator) rate(field string, r float64) {
	if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		v.add(field, "must be a number >= 0, got %v", r)
	}
}

// Validate checks every field and returns all problems at once, joined with
// errors.Join; each is a *FieldError. It returns nil for a usable Config.
func (c Config) Validate() error {
	var v validator
	if err := checkHostPort(c.Listen); err != nil {
		v.add("listen", "%q is not host:port (%v)", c.Listen, err)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		v.add("data_dir", "must not be empty")
	}
	for _, o := range c.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			v.add("allowed_origins", "%q %v", o, err)
		}
	}
	v.positive("max_message_bytes", c.MaxMessageBytes)
	v.positive("max_queue_bytes", c.MaxQueueBytes)
	if c.MaxMessageBytes > 0 && c.MaxQueueBytes > 0 && c.MaxQueueBytes < c.MaxMessageBytes {
		v.add("max_queue_bytes", "%d is less than max_message_bytes %d", c.MaxQueueBytes, c.MaxMessageBytes)
	}
	v.positiveDuration("auth_timeout", c.AuthTimeout)
	v.positiveDuration("handshake_timeout", c.HandshakeTimeout)
	v.positiveDuration("ping_interval", c.PingInterval)
	v.positiveDuration("pong_timeout", c.PongTimeout)
	v.positiveDuration("write_timeout", c.WriteTimeout)
	v.positiveDuration("shutdown_timeout", c.ShutdownTimeout)
	v.positiveDuration("route_sync_interval", c.RouteSyncInterval)
	v.positiveDuration("session_ttl", c.SessionTTL)
	v.rate("rate_limit", c.RateLimit)
	if c.RateBurst < 0 {
		v.add("rate_burst", "must be >= 0, got %d", c.RateBurst)
	}
	v.rate("backpipe_rate", c.BackpipeRate)
	if c.BackpipeBurst < 0 {
		v.add("backpipe_burst", "must be >= 0, got %d", c.BackpipeBurst)
	}
	v.rate("login_rate", c.LoginRate)
	if !slices.Contains(logLevels, strings.ToLower(c.LogLevel)) {
		v.add("log_level", "%q is not one of %s", c.LogLevel, strings.Join(logLevels, ", "))
	}
	if c.Workers < 0 || c.Workers > maxWorkers {
		v.add("workers", "must be 0..%d, got %d", maxWorkers, c.Workers)
	}
	v.positive("max_connections_per_process", c.MaxConnectionsPerProcess)
	return errors.Join(v.errs...)
}

// maxWorkers is the largest worker count supervise accepts.
const maxWorkers = 64

// ValidateSupervise is Validate plus the rule of `porthouse supervise`:
// workers must be set (1..64).
func (c Config) ValidateSupervise() error {
	err := c.Validate()
	if c.Workers == 0 {
		err = errors.Join(err, &FieldError{Field: "workers", Problem: "supervise needs -workers 1..64"})
	}
	return err
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number 0..65535", port)
	}
	return nil
}

// checkOrigin accepts an absolute http(s) origin: scheme and host with an
// optional port, nothing else.
func checkOrigin(o string) error {
	if o == "*" {
		return errors.New("is not allowed: list each origin")
	}
	u, err := url.Parse(o)
	if err != nil {
		return errors.New("is not a URL origin like https://example.com")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must start with http:// or https://")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("has no host")
	case u.User != nil:
		return errors.New("must not hold user info")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || strings.HasSuffix(o, "#"):
		return errors.New("must be scheme://host[:port] with no path, query or fragment")
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return fmt.Errorf("has a bad port %q", p)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("has an empty port")
	}
	return nil
}

// OriginAllowed reports whether origin (a request's Origin header) is in
// AllowedOrigins. Scheme and host compare case-insensitively, as browsers
// send them in lower case.
func (c Config) OriginAllowed(origin string) bool {
	for _, o := range c.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}
