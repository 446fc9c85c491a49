package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Secret and id shapes. The lengths are those of base64url (no padding) of
// 32 bytes and lowercase base32 (no padding) of 10 bytes.
const (
	tokenIDPrefix     = "tk_"
	tokenSecretPrefix = "ph_"
	apiKeyIDPrefix    = "ak_"
	apiKeySecretPref  = "pk_"
	secretB64Len      = 43 // base64.RawURLEncoding of 32 bytes

	minPasswordLen = 8
	maxPasswordLen = 72 // bcrypt ignores anything longer; refuse it instead
	maxLabelLen    = 256
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// bcryptCost is the cost for new password hashes. Tests lower it.
var bcryptCost = bcrypt.DefaultCost

// SetPasswordCostForTesting lowers the bcrypt cost of new password hashes so
// that test suites creating many accounts stay fast. Call it before the first
// store is opened (from TestMain or init); never in production code.
func SetPasswordCostForTesting(cost int) { bcryptCost = cost }

// randomBytes returns n bytes from crypto/rand, which never fails.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// newID returns prefix + lowercase base32 of 10 random bytes.
func newID(prefix string) string {
	return prefix + strings.ToLower(b32.EncodeToString(randomBytes(10)))
}

// newSecret returns prefix + base64url of 32 random bytes.
func newSecret(prefix string) string {
	return prefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

// hashSecret is the stored form of a token, API key or session secret.
func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// sameHash compares two secret hashes in constant time.
func sameHash(a, b []byte) bool {
	return len(a) == sha256.Size && subtle.ConstantTimeCompare(a, b) == 1
}

// wellFormed reports whether secret is prefix followed by exactly 43
// base64url characters. Malformed secrets are refused without a query.
func wellFormed(secret, prefix string) bool {
	if len(secret) != len(prefix)+secretB64Len || !strings.HasPrefix(secret, prefix) {
		return false
	}
	for i := len(prefix); i < len(secret); i++ {
		c := secret[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// hashPassword validates and hashes an account password.
func hashPassword(password string) ([]byte, error) {
	if len(password) < minPasswordLen {
		return nil, fmt.Errorf("%w: password must be at least %d characters", ErrInvalid, minPasswordLen)
	}
	return bcryptHash(password)
}

// bcryptHash hashes any non-empty password of at most 72 bytes.
func bcryptHash(password string) ([]byte, error) {
	if len(password) > maxPasswordLen {
		return nil, fmt.Errorf("%w: password must be at most %d bytes", ErrInvalid, maxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	return h, nil
}

// dummyHash is compared against when a login names an unknown user, so that
// the answer takes as long as for a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword(randomBytes(16), bcryptCost)
	if err != nil {
		panic("store: dummy bcrypt hash: " + err.Error())
	}
	return h
})

// randomPassword returns n characters from [A-Za-z0-9], uniformly.
func randomPassword(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const limit = 256 - 256%len(alphabet) // reject bytes that would bias
	out := make([]byte, 0, n)
	for len(out) < n {
		for _, c := range randomBytes(n) {
			if int(c) < limit && len(out) < n {
				out = append(out, alphabet[c%byte(len(alphabet))])
			}
		}
	}
	return string(out)
}

// checkLabel validates a free-text name (tokens, API keys).
func checkLabel(field, v string) error {
	if len(v) > maxLabelLen {
		return fmt.Errorf("%w: %s must be at most %d bytes", ErrInvalid, field, maxLabelLen)
	}
	return nil
}
