#include "real/auth.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace mirrorsim::real {
namespace {

constexpr std::string_view kClientProofLabel = "mirrorsim/2 client proof";
constexpr std::string_view kServerProofLabel = "mirrorsim/2 server proof";
constexpr std::string_view kClientToServerLabel = "mirrorsim/2 frames client to server";
constexpr std::string_view kServerToClientLabel = "mirrorsim/2 frames server to client";

void ensure_sodium() {
  static const int ready = sodium_init();  // thread-safe, once; 1 = already initialised
  if (ready < 0) throw std::runtime_error("libsodium could not be initialised");
}

// BLAKE2b-256 keyed with `k` over label | client nonce | server nonce.
std::array<uint8_t, 32> keyed_hash(const Key& k, std::string_view label, const Nonce& client, const Nonce& server) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, k.bytes.data(), k.bytes.size(), 32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(label.data()), label.size());
  crypto_generichash_update(&st, client.data(), client.size());
  crypto_generichash_update(&st, server.data(), server.size());
  std::array<uint8_t, 32> out;
  crypto_generichash_final(&st, out.data(), out.size());
  sodium_memzero(&st, sizeof st);
  return out;
}

std::string mode_text(mode_t m) { return fmt::format("{:04o}", m & 07777); }

}  // namespace

Key random_key() {
  ensure_sodium();
  Key k;
  randombytes_buf(k.bytes.data(), k.bytes.size());
  return k;
}

Nonce random_nonce() {
  ensure_sodium();
  Nonce n;
  randombytes_buf(n.data(), n.size());
  return n;
}

Key public_key() { return Key{}; }

bool is_public(const Key& k) { return sodium_is_zero(k.bytes.data(), k.bytes.size()) == 1; }

Key read_key_file(const std::string& path) {
  ensure_sodium();
  // O_NONBLOCK: a FIFO must not hang the open (it is refused below).
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw KeyFileError(fmt::format("cannot open key file {}: {}", path, std::strerror(errno)));
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw KeyFileError(fmt::format("cannot stat key file {}: {}", path, std::strerror(err)));
  }
  auto refuse = [&](const std::string& why) {
    ::close(fd);
    throw KeyFileError(fmt::format("key file {}: {}", path, why));
  };
  if (!S_ISREG(st.st_mode)) refuse("not a regular file");
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    refuse(fmt::format("mode {} lets group or others read or write it; a key must be private: chmod 600 {}",
                       mode_text(st.st_mode), path));
  if (st.st_size != static_cast<off_t>(kKeyBytes))
    refuse(fmt::format("holds {} bytes, a key is {} (make one with `mirrorsim secondary --new-key FILE`)", st.st_size,
                       kKeyBytes));
  Key k;
  const ssize_t n = ::read(fd, k.bytes.data(), k.bytes.size());
  if (n != static_cast<ssize_t>(kKeyBytes)) refuse(n < 0 ? std::strerror(errno) : "short read");
  ::close(fd);
  if (is_public(k)) throw KeyFileError(fmt::format("key file {}: all zeros, which is the public key of an unkeyed "
                                                   "loopback secondary; make a real one with --new-key",
                                                   path));
  return k;
}

void write_new_key_file(const std::string& path) {
  const Key k = random_key();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST)
    throw KeyFileError(fmt::format("{} exists: refusing to overwrite a key file (a secondary or a run may still use "
                                   "it; remove it yourself if not)",
                                   path));
  if (fd < 0) throw KeyFileError(fmt::format("cannot create key file {}: {}", path, std::strerror(errno)));
  // Exactly 0600, whatever the umask.
  const bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, k.bytes.data(), k.bytes.size()) == static_cast<ssize_t>(kKeyBytes) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw KeyFileError(fmt::format("cannot write key file {}: {}", path, std::strerror(err)));
  }
}

Proof handshake_proof(const Key& k, Party by, const Nonce& client, const Nonce& server) {
  ensure_sodium();
  return keyed_hash(k, by == Party::Client ? kClientProofLabel : kServerProofLabel, client, server);
}

bool proofs_equal(const Proof& a, const Proof& b) { return crypto_verify_32(a.data(), b.data()) == 0; }

SessionKeys session_keys(const Key& k, const Nonce& client, const Nonce& server) {
  ensure_sodium();
  SessionKeys s;
  s.client_to_server.bytes = keyed_hash(k, kClientToServerLabel, client, server);
  s.server_to_client.bytes = keyed_hash(k, kServerToClientLabel, client, server);
  return s;
}

std::array<uint8_t, kFrameTagBytes> FrameMac::tag_of(std::span<const std::span<const uint8_t>> frame) const {
  // crypto_aead_chacha20poly1305_ietf_encrypt_detached with an empty
  // message and the frame as associated data, computed over the frame's
  // parts where they lie (a track image goes from the cache to the socket
  // without a copy): the Poly1305 key is the first ChaCha20 block under
  // the nonce, the MAC input the associated data padded to 16 bytes, then
  // both lengths (tests/real/test_codec.cpp holds it to libsodium's own).
  static_assert(crypto_aead_chacha20poly1305_IETF_NPUBBYTES == 12);
  uint8_t nonce[12] = {};
  std::memcpy(nonce + 4, &seq_, 8);
  uint8_t poly_key[crypto_onetimeauth_poly1305_KEYBYTES];
  crypto_stream_chacha20_ietf(poly_key, sizeof poly_key, nonce, key_.bytes.data());
  crypto_onetimeauth_poly1305_state st;
  crypto_onetimeauth_poly1305_init(&st, poly_key);
  uint64_t ad_bytes = 0;
  for (const auto& part : frame) {
    if (part.empty()) continue;
    crypto_onetimeauth_poly1305_update(&st, part.data(), part.size());
    ad_bytes += part.size();
  }
  static const uint8_t zeros[16] = {};
  if (ad_bytes % 16) crypto_onetimeauth_poly1305_update(&st, zeros, 16 - ad_bytes % 16);
  uint8_t lengths[16] = {};
  std::memcpy(lengths, &ad_bytes, 8);  // little-endian, then the message length 0
  crypto_onetimeauth_poly1305_update(&st, lengths, sizeof lengths);
  std::array<uint8_t, kFrameTagBytes> tag;
  crypto_onetimeauth_poly1305_final(&st, tag.data());
  sodium_memzero(poly_key, sizeof poly_key);
  return tag;
}

std::array<uint8_t, kFrameTagBytes> FrameMac::sign(std::span<const std::span<const uint8_t>> frame) {
  const auto tag = tag_of(frame);
  ++seq_;
  return tag;
}

bool FrameMac::verify(std::span<const uint8_t> frame, std::span<const uint8_t> tag) {
  if (tag.size() != kFrameTagBytes) return false;
  const std::span<const uint8_t> parts[] = {frame};
  const auto want = tag_of(parts);
  if (crypto_verify_16(want.data(), tag.data()) != 0) return false;
  ++seq_;
  return true;
}

std::vector<uint8_t> encode(const AuthChallenge& c) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.u16(c.protocol_version);
  w.bytes(c.nonce);
  return b;
}

std::vector<uint8_t> encode(const AuthResponse& a) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.bytes(a.nonce);
  w.bytes(a.proof);
  return b;
}

std::vector<uint8_t> encode_auth_proof(const Proof& p) {
  std::vector<uint8_t> b;
  ByteWriter w(b);
  w.bytes(p);
  return b;
}

std::optional<AuthChallenge> decode_auth_challenge(ByteReader& r) {
  AuthChallenge c;
  c.protocol_version = r.u16("AuthChallenge.protocol_version");
  const auto n = r.bytes("AuthChallenge.nonce", kNonceBytes);
  if (!r.finish("AuthChallenge")) return std::nullopt;
  std::memcpy(c.nonce.data(), n.data(), kNonceBytes);
  return c;
}

std::optional<AuthResponse> decode_auth_response(ByteReader& r) {
  AuthResponse a;
  const auto n = r.bytes("AuthResponse.nonce", kNonceBytes);
  const auto p = r.bytes("AuthResponse.proof", kProofBytes);
  if (!r.finish("AuthResponse")) return std::nullopt;
  std::memcpy(a.nonce.data(), n.data(), kNonceBytes);
  std::memcpy(a.proof.data(), p.data(), kProofBytes);
  return a;
}

std::optional<Proof> decode_auth_proof(ByteReader& r) {
  const auto p = r.bytes("AuthProof.proof", kProofBytes);
  if (!r.finish("AuthProof")) return std::nullopt;
  Proof out;
  std::memcpy(out.data(), p.data(), kProofBytes);
  return out;
}

}  // namespace mirrorsim::real
