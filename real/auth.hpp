// Authentication of every connection of the real driver (control and link),
// with libsodium's primitives only (README.md, "Authentication"):
//
//   client → server  AuthChallenge  protocol version, client nonce Nc (32 random bytes)
//   server → client  AuthResponse   server nonce Ns, server proof = BLAKE2b_K("server proof" | Nc | Ns)
//   client → server  AuthProof      client proof = BLAKE2b_K("client proof" | Nc | Ns)
//
// Both proofs are keyed BLAKE2b (crypto_generichash) under the shared key K;
// each side checks the other's in constant time. Ns is fresh for every
// connection, so a recorded handshake replayed later proves nothing. Then
// each direction has its own session key, BLAKE2b_K(direction | Nc | Ns),
// and every frame after the handshake carries a 16-byte tag: the
// ChaCha20-Poly1305 (IETF, RFC 8439) tag of an empty plaintext with the
// whole frame — header, body and any track image — as associated data,
// under the direction's key and a nonce that is the frame's sequence number
// in that direction (implicit: never sent). A frame injected, dropped,
// replayed, reordered or with a single bit flipped fails its tag.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "real/wire.hpp"

namespace mirrorsim::real {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 32;
constexpr size_t kProofBytes = 32;
constexpr size_t kFrameTagBytes = 16;
// The handshake's frames (and a refusal's reason) are small: nothing
// larger is read from a connection that has not authenticated.
constexpr uint32_t kAuthFrameMaxBytes = 512;

struct Key {
  std::array<uint8_t, kKeyBytes> bytes{};
};
using Nonce = std::array<uint8_t, kNonceBytes>;
using Proof = std::array<uint8_t, kProofBytes>;

// 32 bytes from the kernel's random source (randombytes_buf).
Key random_key();
Nonce random_nonce();
// The key of a `mirrorsim secondary` started on loopback without --key:
// all zeros, known to everyone. It keeps one protocol for every connection;
// it protects nothing, which is why only loopback may use it.
Key public_key();
bool is_public(const Key& k);

// Key files: exactly kKeyBytes raw bytes, a regular file that neither
// group nor others may read or write. Both throw KeyFileError saying what
// is wrong and how to fix it.
class KeyFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
Key read_key_file(const std::string& path);
// Creates `path` with mode 0600 holding a new random key; refuses an
// existing file (never overwrites a key someone may still use).
void write_new_key_file(const std::string& path);

enum class Party : uint8_t { Client, Server };

Proof handshake_proof(const Key& k, Party by, const Nonce& client, const Nonce& server);
bool proofs_equal(const Proof& a, const Proof& b);  // constant time
struct SessionKeys {
  Key client_to_server;
  Key server_to_client;
};
SessionKeys session_keys(const Key& k, const Nonce& client, const Nonce& server);

// One direction of a session: tags the frames sent, or checks the frames
// received, in order (the sequence number advances with each).
class FrameMac {
 public:
  explicit FrameMac(const Key& direction_key) : key_(direction_key) {}
  // The tag of the next frame, given as consecutive parts (header, body,
  // image); advances the sequence number.
  std::array<uint8_t, kFrameTagBytes> sign(std::span<const std::span<const uint8_t>> frame);
  // True when `tag` is the next frame's tag (constant-time comparison);
  // advances the sequence number only then.
  bool verify(std::span<const uint8_t> frame, std::span<const uint8_t> tag);
  uint64_t seq() const { return seq_; }

 private:
  std::array<uint8_t, kFrameTagBytes> tag_of(std::span<const std::span<const uint8_t>> frame) const;
  Key key_;
  uint64_t seq_ = 0;
};

// The handshake's bodies.
struct AuthChallenge {
  uint16_t protocol_version = kProtocolVersion;
  Nonce nonce{};
};
struct AuthResponse {
  Nonce nonce{};
  Proof proof{};
};
std::vector<uint8_t> encode(const AuthChallenge&);
std::vector<uint8_t> encode(const AuthResponse&);
std::vector<uint8_t> encode_auth_proof(const Proof&);
std::optional<AuthChallenge> decode_auth_challenge(ByteReader& r);
std::optional<AuthResponse> decode_auth_response(ByteReader& r);
std::optional<Proof> decode_auth_proof(ByteReader& r);

}  // namespace mirrorsim::real
