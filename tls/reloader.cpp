// Asio's executor comparison trips g++ 12's -Wnull-dereference after
// inlining at -O2 (a false positive inside Boost); silence it for this file.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "tls/reloader.h"

#include <sys/stat.h>

#include <fmt/chrono.h>

namespace rampart::tls {

FileStamp stampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return FileStamp{true,
                   static_cast<uint64_t>(st.st_dev),
                   static_cast<uint64_t>(st.st_ino),
                   static_cast<uint64_t>(st.st_size),
                   st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec,
                   st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec};
}

Reloader::Reloader(ServerConfig config, std::shared_ptr<HandshakeCounters> counters,
                   std::shared_ptr<TicketKeys> tickets)
    : config_(std::move(config)),
      counters_(counters ? std::move(counters) : std::make_shared<HandshakeCounters>()),
      tickets_(std::move(tickets)) {}

Result<std::shared_ptr<Reloader>> Reloader::create(ServerConfig config, std::shared_ptr<HandshakeCounters> counters,
                                                   std::shared_ptr<TicketKeys> tickets) {
  if (!tickets) {
    auto made = TicketKeys::create();
    if (!made) return std::unexpected(made.error());
    tickets = std::move(*made);
  }
  std::shared_ptr<Reloader> r(new Reloader(std::move(config), std::move(counters), std::move(tickets)));
  auto before = r->stamps();
  auto ctx = ServerContext::create(r->config_, r->counters_, r->tickets_);
  if (!ctx) return std::unexpected(ctx.error());
  r->current_ = std::move(*ctx);
  r->attempted_ = before;
  return r;
}

std::shared_ptr<ServerContext> Reloader::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::vector<FileStamp> Reloader::stamps() const {
  std::vector<FileStamp> out{stampOf(config_.cert_file), stampOf(config_.key_file)};
  if (config_.client_ca_file) out.push_back(stampOf(*config_.client_ca_file));
  return out;
}

Result<bool> Reloader::check() { return load(false); }
Result<bool> Reloader::reload() { return load(true); }

Result<bool> Reloader::load(bool force) {
  auto before = stamps();
  {
    std::lock_guard lock(mu_);
    if (!force && before == attempted_) return false;
  }
  auto ctx = ServerContext::create(config_, counters_, tickets_);
  // A file replaced while we read it (a writer without rename) may have been
  // read half-way: whatever we built is discarded and the next check retries.
  if (stamps() != before) return false;
  std::lock_guard lock(mu_);
  attempted_ = before;
  if (!ctx) {
    failures_.fetch_add(1);
    return fail("certificate reload failed, still serving {} (expires {:%F}): {}", current_->identity().fingerprint(),
                std::chrono::floor<std::chrono::seconds>(current_->identity().notAfter()), ctx.error().message);
  }
  current_ = std::move(*ctx);
  reloads_.fetch_add(1);
  return true;
}

void Reloader::watch(boost::asio::io_context& io, std::chrono::milliseconds interval,
                     std::function<void(const Result<bool>&)> report) {
  timer_.emplace(io);
  interval_ = interval;
  report_ = std::move(report);
  arm();
}

void Reloader::stop() {
  if (timer_) timer_->cancel();
}

void Reloader::arm() {
  timer_->expires_after(interval_);
  timer_->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    auto r = self->check();
    if (self->report_ && (!r || *r)) self->report_(r);
    self->arm();
  });
}

}  // namespace rampart::tls
