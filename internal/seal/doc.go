// Package seal holds the cryptography of sealed databases (docs/sealed.md):
// what the engine needs to make a database readable by its members only,
// as plain functions and values with no I/O.
//
//   - Epoch keys and the value AEAD: SealValue and OpenValue seal a value
//     under a 32-byte epoch key with a key-committing construction
//     (HMAC-SHA256 commitment and per-message key, AES-256-GCM), bound to
//     associated data the caller chooses (the database and the sealed key).
//   - Names: a Names seals key components (collection names, document ids,
//     field names, ...) deterministically, SIV-style, so equal components
//     give equal ciphertexts and merges and prefix scans keep working.
//   - Member keys: a MemberKey is a peer's HPKE key pair for sealing,
//     separate from its libp2p identity; its MemberRecord is the public
//     half signed by that identity.
//   - Key packages: a KeyPackage starts an epoch (with links to the keys of
//     the level below) or adds readers to one, wrapping the epoch key to
//     each reader's member key with HPKE. It is signed by its issuer and
//     bound to one database.
//   - Keyring: the epochs a replica knows, the keys it could open, and the
//     current epoch, chosen the same way on every replica.
//
// Every decoder (DecodeMemberRecord, DecodeKeyPackage, OpenValue, Names.Open)
// refuses malformed input with an error and never panics; each is fuzzed.
// Errors wrap the sentinels of errors.go.
package seal
