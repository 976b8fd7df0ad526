package keymeter

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"
)

// Origin identity namespaces. An origin (API Gateway) does not log the
// API key a client sent at the edge; it logs who the caller is in its own
// terms, in clear text: the ID of the API Gateway API key (REST APIs), or
// a value the operator chooses (an authorizer's principal ID or a JWT
// claim, for HTTP APIs, which have no API keys).
const (
	IdentityAPIKeyID = "apikeyid" // $context.identity.apiKeyId
	IdentityCaller   = "identity" // the operator's identity field
)

// OriginIdentity returns the KeyFingerprint under which keymeter keeps an
// origin identity beside the fingerprints of API keys, so that requests
// attributed to it are counted and assigned to customers like any key:
//
//   - Fingerprint is the identity in clear text, namespaced:
//     "apikeyid:a1b2c3d4e5", "identity:tenant-42". Identities are not
//     secrets (an API key ID cannot be used to call the API), and the
//     ':' tells them apart from fingerprints, which are hex.
//   - ID is the first 8 bytes, big-endian, of SHA-256 of that string.
//   - Hint is empty.
//
// namespace is IdentityAPIKeyID or IdentityCaller.
func OriginIdentity(namespace string, value []byte) KeyFingerprint {
	name := make([]byte, 0, len(namespace)+1+len(value))
	name = append(append(append(name, namespace...), ':'), value...)
	sum := sha256.Sum256(name)
	return KeyFingerprint{ID: binary.BigEndian.Uint64(sum[:8]), Fingerprint: string(name)}
}

// IsOriginIdentity reports whether a key's Fingerprint is an origin
// identity (see OriginIdentity) rather than the fingerprint of an API
// key, and returns its namespace and value.
func IsOriginIdentity(fingerprint string) (namespace, value string, ok bool) {
	return strings.Cut(fingerprint, ":")
}
