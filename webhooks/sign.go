package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// SecretPrefix starts every endpoint secret (Standard Webhooks).
const SecretPrefix = "whsec_"

// NewSecret returns a new endpoint secret: "whsec_" and 32 random bytes
// in base64.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey is the HMAC key of a secret: the bytes its base64 holds.
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) < 24 || len(key) > 64 {
		return nil, errors.New(`a webhook secret is "whsec_" and 24 to 64 bytes in base64`)
	}
	return key, nil
}

// Sign returns the webhook-signature header of a message signed with each
// secret (Standard Webhooks 1.0: "v1," and the base64 HMAC-SHA256 of
// "{id}.{timestamp}.{body}"; several space-separated during a rotation).
func Sign(secrets []string, id string, timestamp int64, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
