package bundle

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
)

// Signer signs manifests with a hub's key.
type Signer interface {
	// Sign returns the signature of msg (SignatureAlgorithm).
	Sign(msg []byte) ([]byte, error)
	// KeyID is the URL of the public key (the actor's publicKey id).
	KeyID() string
	// PublicKeyPEM is the public key, as the actor publishes it.
	PublicKeyPEM() string
}

// MinKeyBits is the smallest RSA key a bundle is signed or verified with.
const MinKeyBits = 2048

// RSASigner signs with an RSA key, RSASSA-PKCS1-v1_5 over SHA-256. It
// remembers the signatures of the last manifests it signed, so serving the
// same collection again costs no RSA operation (a signature is
// deterministic: the cache changes no byte).
type RSASigner struct {
	key   *rsa.PrivateKey
	keyID string
	pem   string

	mu    sync.Mutex
	cache map[[sha256.Size]byte][]byte
}

// signatureCache bounds the remembered signatures (about 300 bytes each).
const signatureCache = 512

// NewRSASigner signs with key, published at keyID.
func NewRSASigner(key *rsa.PrivateKey, keyID string) (*RSASigner, error) {
	if key == nil {
		return nil, errors.New("bundle: no key")
	}
	if key.N.BitLen() < MinKeyBits {
		return nil, fmt.Errorf("bundle: an RSA key of %d bits; at least %d are needed", key.N.BitLen(), MinKeyBits)
	}
	if keyID == "" {
		return nil, errors.New("bundle: no key id")
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("bundle: public key: %w", err)
	}
	return &RSASigner{key: key, keyID: keyID, pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		cache: map[[sha256.Size]byte][]byte{}}, nil
}

// KeyID implements Signer.
func (s *RSASigner) KeyID() string { return s.keyID }

// PublicKeyPEM implements Signer.
func (s *RSASigner) PublicKeyPEM() string { return s.pem }

// Sign implements Signer.
func (s *RSASigner) Sign(msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	s.mu.Lock()
	sig, ok := s.cache[h]
	s.mu.Unlock()
	if ok {
		return sig, nil
	}
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, h[:])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.cache) >= signatureCache {
		clear(s.cache)
	}
	s.cache[h] = sig
	s.mu.Unlock()
	return sig, nil
}

// VerifySignature checks sig, made by SignatureAlgorithm, over msg.
func VerifySignature(pub *rsa.PublicKey, msg, sig []byte) error {
	if pub == nil {
		return errors.New("no public key")
	}
	if pub.N.BitLen() < MinKeyBits {
		return fmt.Errorf("an RSA key of %d bits is too weak (at least %d)", pub.N.BitLen(), MinKeyBits)
	}
	h := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
}

// ParsePublicKeyPEM reads an RSA public key: PEM "PUBLIC KEY" (PKIX, as
// actors publish it) or "RSA PUBLIC KEY" (PKCS #1).
func ParsePublicKeyPEM(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("not an RSA key")
		}
		return rk, nil
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(block.Bytes)
	}
	return nil, fmt.Errorf("a PEM block of type %q, not a public key", block.Type)
}
