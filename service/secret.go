package service

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/keymeter/keymeter"
)

// Secret returns the fingerprint secret, from SecretFile, creating it on
// first use (32 random bytes, in hex, readable by its owner only), and
// makes sure the store was built with the same one (SecretChecker). It
// returns an EINVALID error when the file is damaged, and the checker's
// ECONFLICT error when the store was built with another secret.
func (s *Service) Secret(ctx context.Context, store SecretChecker) ([]byte, error) {
	path := s.SecretFile
	if path == "" {
		return nil, errors.New("service: no secret file")
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if b, err = createSecret(path); err != nil {
			return nil, fmt.Errorf("create secret: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(secret) < 16 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the secret file %s is damaged: it must hold at least 32 hex digits", path)
	}
	if err := store.CheckSecret(ctx, SecretCheck(secret)); err != nil {
		return nil, err
	}
	return secret, nil
}

// createSecret writes a new secret to path, which must not exist, and
// returns the file's content.
func createSecret(path string) ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	b = []byte(hex.EncodeToString(b) + "\n")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return b, nil
}

// SecretCheck is the value a store keeps to recognise a secret: 16 hex
// digits of an HMAC of a fixed text, from which the secret cannot be
// recovered.
func SecretCheck(secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("keymeter secret check"))
	return hex.EncodeToString(mac.Sum(nil))[:16]
}
