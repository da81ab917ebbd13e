#include "real/connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <sodium.h>

#include "real/cpu.hpp"

#include "real/protocol.hpp"

namespace mirrorsim::real {

std::shared_ptr<Connection> Connection::make(EventLoop& loop, int fd, uint32_t max_body_bytes, std::string name,
                                             Party party, const Key& key) {
  std::shared_ptr<Connection> c(new Connection(loop, fd, max_body_bytes, std::move(name), party, key));
  std::weak_ptr<Connection> weak = c;
  loop.add(fd, EPOLLIN | EPOLLRDHUP, [weak](uint32_t ev) {
    if (auto self = weak.lock()) self->on_events(ev);
  });
  if (party == Party::Client) {
    c->client_nonce_ = random_nonce();
    c->send_untagged(FrameType::AuthChallenge, encode(AuthChallenge{kProtocolVersion, c->client_nonce_}));
  }
  return c;
}

Connection::Connection(EventLoop& loop, int fd, uint32_t max_body_bytes, std::string name, Party party, const Key& key)
    : loop_(loop),
      fd_(fd),
      name_(std::move(name)),
      max_body_bytes_(max_body_bytes),
      decoder_(kAuthFrameMaxBytes),
      party_(party),
      key_(key),
      handshake_(party == Party::Client ? Handshake::AwaitResponse : Handshake::AwaitChallenge) {}

Connection::~Connection() {
  sodium_memzero(&key_, sizeof key_);
  if (fd_ >= 0) {
    loop_.remove(fd_);
    ::close(fd_);
  }
}

void Connection::close(const std::string& reason, CloseCause cause) {
  if (fd_ < 0) return;
  loop_.remove(fd_);
  ::close(fd_);
  fd_ = -1;
  cause_ = cause;
  out_.clear();
  out_.shrink_to_fit();
  out_pos_ = 0;
  waiting_.clear();
  if (on_closed_) {
    auto cb = std::move(on_closed_);
    on_closed_ = nullptr;
    on_frame_ = nullptr;
    cb(reason);
  }
}

void Connection::send_untagged(FrameType type, std::span<const uint8_t> body) {
  uint8_t header[kFrameHeaderBytes];
  write_frame_header(header, type, body, 0);
  const std::span<const uint8_t> parts[] = {std::span<const uint8_t>(header, kFrameHeaderBytes), body};
  write_or_queue(parts);
}

void Connection::send(FrameType type, std::span<const uint8_t> body, std::span<const uint8_t> image) {
  if (fd_ < 0) return;
  if (!authenticated()) {
    // A server refusing a connection that never authenticated says why in
    // the clear (nothing else leaves before the handshake); a client's
    // frames wait for the handshake to end.
    if (party_ == Party::Server) {
      if (type == FrameType::Refused) send_untagged(type, body);
      return;
    }
    Frame f{type, {body.begin(), body.end()}, static_cast<uint32_t>(body.size())};
    f.body.insert(f.body.end(), image.begin(), image.end());
    waiting_.push_back(std::move(f));
    return;
  }
  uint8_t header[kFrameHeaderBytes];
  write_frame_header(header, type, body, image.size());
  const std::span<const uint8_t> framed[] = {std::span<const uint8_t>(header, kFrameHeaderBytes), body, image};
  const auto tag = tx_->sign(framed);
  const std::span<const uint8_t> parts[] = {framed[0], body, image, tag};
  write_or_queue(parts);
}

void Connection::send_raw(std::span<const uint8_t> frame_bytes) {
  if (fd_ < 0) return;
  if (!authenticated()) throw std::logic_error("Connection::send_raw before the handshake ended");
  const std::span<const uint8_t> framed[] = {frame_bytes};
  const auto tag = tx_->sign(framed);
  const std::span<const uint8_t> parts[] = {frame_bytes, tag};
  write_or_queue(parts);
}

void Connection::handshake(const FrameView& f) {
  ByteReader r(f.body);
  if (f.type == FrameType::Refused)
    return close(fmt::format("refused by the other side before authenticating: {}", decode_refusal(r)),
                 CloseCause::Unauthenticated);
  // A server says why in the clear (it gives nothing away), then closes.
  auto reject = [&](const std::string& why) {
    if (party_ == Party::Server) send_untagged(FrameType::Refused, encode_refusal(why));
    close(why, CloseCause::Unauthenticated);
  };
  switch (handshake_) {
    case Handshake::AwaitChallenge: {
      if (f.type != FrameType::AuthChallenge)
        return reject(fmt::format("rejected: authentication required, the first frame was a {} (a client without the "
                                 "key, or of an older protocol)",
                                 to_string(f.type)));
      const auto c = decode_auth_challenge(r);
      if (!c) return reject("rejected: malformed AuthChallenge: " + r.error());
      if (c->protocol_version != kProtocolVersion)
        return reject(fmt::format("rejected: protocol version {}, this controller speaks {}", c->protocol_version,
                                 kProtocolVersion));
      client_nonce_ = c->nonce;
      server_nonce_ = random_nonce();
      send_untagged(FrameType::AuthResponse,
                    encode(AuthResponse{server_nonce_, handshake_proof(key_, Party::Server, client_nonce_, server_nonce_)}));
      handshake_ = Handshake::AwaitProof;
      return;
    }
    case Handshake::AwaitProof: {
      if (f.type != FrameType::AuthProof)
        return reject(fmt::format("rejected: expected AuthProof, got a {} frame", to_string(f.type)));
      const auto p = decode_auth_proof(r);
      if (!p) return reject("rejected: malformed AuthProof: " + r.error());
      if (!proofs_equal(*p, handshake_proof(key_, Party::Client, client_nonce_, server_nonce_)))
        return reject("rejected: authentication failed: the client does not hold this controller's key (a wrong "
                     "--key, or a replayed handshake)");
      return authenticated_as(Party::Server);
    }
    case Handshake::AwaitResponse: {
      if (f.type != FrameType::AuthResponse)
        return close(fmt::format("rejected: expected AuthResponse, got a {} frame", to_string(f.type)),
                     CloseCause::Unauthenticated);
      const auto a = decode_auth_response(r);
      if (!a) return close("rejected: malformed AuthResponse: " + r.error(), CloseCause::Unauthenticated);
      server_nonce_ = a->nonce;
      if (!proofs_equal(a->proof, handshake_proof(key_, Party::Server, client_nonce_, server_nonce_)))
        return close("rejected: authentication failed: the controller does not hold our key (a different --key?)",
                     CloseCause::Unauthenticated);
      send_untagged(FrameType::AuthProof, encode_auth_proof(handshake_proof(key_, Party::Client, client_nonce_, server_nonce_)));
      return authenticated_as(Party::Client);
    }
    case Handshake::Done: return;
  }
}

void Connection::authenticated_as(Party party) {
  const SessionKeys k = session_keys(key_, client_nonce_, server_nonce_);
  sodium_memzero(&key_, sizeof key_);
  tx_.emplace(party == Party::Client ? k.client_to_server : k.server_to_client);
  rx_.emplace(party == Party::Client ? k.server_to_client : k.client_to_server);
  decoder_.expect_tags(&*rx_);
  decoder_.set_max_body_bytes(max_body_bytes_);
  handshake_ = Handshake::Done;
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (const Frame& f : waiting) {
    const std::span<const uint8_t> all(f.body);
    send(f.type, all.subspan(0, f.checked_bytes), all.subspan(f.checked_bytes));
  }
}

void Connection::write_or_queue(std::span<const std::span<const uint8_t>> parts) {
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  size_t written = 0;
  if (queued_bytes() == 0) {
    out_.clear();
    out_pos_ = 0;
    iovec iov[4];
    int n_iov = 0;
    for (const auto& p : parts)
      if (!p.empty() && n_iov < 4) iov[n_iov++] = iovec{const_cast<uint8_t*>(p.data()), p.size()};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n_iov);
    ssize_t n;
    do {
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      close(fmt::format("send failed: {}", std::strerror(errno)));
      return;
    }
    written = n > 0 ? static_cast<size_t>(n) : 0;
    bytes_sent_ += written;
    if (written == total) return;
  }
  // The rest waits in the output queue for the socket to drain.
  size_t skip = written;
  for (const auto& p : parts) {
    if (skip >= p.size()) {
      skip -= p.size();
      continue;
    }
    out_.insert(out_.end(), p.begin() + static_cast<ptrdiff_t>(skip), p.end());
    skip = 0;
  }
  flush();
}

void Connection::flush() {
  while (fd_ >= 0 && out_pos_ < out_.size()) {
    const ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
    if (n > 0) {
      out_pos_ += static_cast<size_t>(n);
      bytes_sent_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close(fmt::format("send failed: {}", std::strerror(errno)));
    return;
  }
  if (fd_ < 0) return;
  if (queued_bytes() > kOutputQueueMaxBytes) {
    close(fmt::format("{} bytes queued for a peer that does not read (limit {})", queued_bytes(), kOutputQueueMaxBytes));
    return;
  }
  const bool want = out_pos_ < out_.size();
  if (want != want_write_) {
    want_write_ = want;
    loop_.modify(fd_, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u));
  }
  if (!want) {
    out_.clear();
    out_pos_ = 0;
  }
}

void Connection::on_events(uint32_t events) {
  auto keep = shared_from_this();
  if (events & EPOLLOUT) flush();
  if (fd_ >= 0 && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) read_available();
}

void Connection::read_available() {
  // Bounded: at most a few reads per wake-up, so one busy connection cannot
  // starve the loop; epoll reports the rest again. Bytes land in the
  // decoder's buffer and frames are handed out in place. Before the
  // handshake ends, reads are as small as its frames: an idle connection
  // that never authenticates costs a few hundred bytes, not a read buffer.
  const size_t read_bytes = authenticated() ? size_t{256} * 1024 : 2 * (kFrameHeaderBytes + kAuthFrameMaxBytes);
  auto keep = shared_from_this();
  // The read, the decode and the tag check of a frame are CPU of the step
  // it causes (cpu.hpp).
  struct Marks {
    ~Marks() { close_frame_marks(); }
  } marks;
  mark_frame_start();
  for (int reads = 0; reads < 8 && fd_ >= 0; ++reads) {
    const auto room = decoder_.prepare(read_bytes);
    const ssize_t n = ::recv(fd_, room.data(), room.size(), 0);
    if (n > 0) {
      decoder_.commit(static_cast<size_t>(n));
      while (fd_ >= 0) {
        const auto f = decoder_.next_view();
        if (!f) break;
        if (handshake_ != Handshake::Done) handshake(*f);
        else if (on_frame_) on_frame_(*f);
        mark_frame_start();
      }
      if (fd_ >= 0 && decoder_.failed()) {
        const bool outsider = !authenticated() || decoder_.failed_unauthenticated();
        close("rejected a frame: " + decoder_.error(), outsider ? CloseCause::Unauthenticated : CloseCause::Malformed);
        return;
      }
      if (static_cast<size_t>(n) < read_bytes) return;
      continue;
    }
    if (n == 0) {
      const std::string how = decoder_.buffered() ? fmt::format("closed by the peer in the middle of a frame ({} bytes of "
                                                                "it received)",
                                                                decoder_.buffered())
                                                  : std::string("closed by the peer");
      close(authenticated() ? how : how + " before authenticating",
            authenticated() ? CloseCause::Ended : CloseCause::Unauthenticated);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    close(fmt::format("receive failed: {}", std::strerror(errno)));
    return;
  }
}

}  // namespace mirrorsim::real
