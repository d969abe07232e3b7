#include "firewall/netlink.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <unordered_map>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <libnftnl/common.h>
#include <libnftnl/gen.h>

#include "firewall/netlink_objects.h"
#include "firewall/nftnl_ptr.h"

namespace rampart::fw::nl {
namespace {

constexpr size_t kRequestBuffer = 8192;            // one small request
constexpr size_t kRecvBuffer = 128 * 1024;       // larger than any one reply message
constexpr int kInitialRcvBuf = 4 * 1024 * 1024;  // socket receive buffer
constexpr int kMaxRcvBuf = 64 * 1024 * 1024;
constexpr uint32_t kBatchPage = 256 * 1024;
constexpr uint32_t kBatchOverrun = 64 * 1024 + 4096;  // one message always fits
constexpr size_t kElemsPerMessage = 256;
constexpr int kDumpAttempts = 4;

// Calls f(attr) for each attribute after the nfgenmsg header.
template <class F>
void forEachAttr(const nlmsghdr* m, F&& f) {
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(m));
  auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(m, sizeof(nfgenmsg)));
  while (mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a)))) {
    f(a);
    a = mnl_attr_next(a);
  }
}

Error kernelError(std::string_view what, int err) {
  if (err == EPERM)
    return Error{fmt::format("{}: permission denied (rampart needs CAP_NET_ADMIN)", what)};
  if (err == EAFNOSUPPORT || err == EPROTONOSUPPORT)
    return Error{fmt::format("{}: nf_tables is not available in this kernel", what)};
  return Error::fromErrno(what, err);
}

void setBuffer(int fd, int force_opt, int opt, int size) {
  // The FORCE variants need CAP_NET_ADMIN and ignore the sysctl ceilings.
  if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size);
}

Result<MnlSocketPtr> openSocket(int flags) {
  MnlSocketPtr sock(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | flags));
  if (!sock) return std::unexpected(kernelError("netlink socket (NETLINK_NETFILTER)", errno));
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return std::unexpected(Error::fromErrno("netlink bind"));
  return sock;
}

}  // namespace

// ---- Socket ----------------------------------------------------------------

struct Socket::State {
  MnlSocketPtr sock;
  uint32_t portid = 0;
  uint32_t seq = 0;
  int rcvbuf = kInitialRcvBuf;
  int injected_overflows = 0;  // injectDumpOverflow()
  std::vector<char> buf = std::vector<char>(kRecvBuffer);

  int fd() const { return mnl_socket_get_fd(sock.get()); }

  struct Outcome {
    int err = 0;              // first NLMSG_ERROR of the request, 0 when acked
    bool interrupted = false; // NLM_F_DUMP_INTR: the dump raced with a change
  };

  // Sends one request and feeds each reply to `on_msg` until the kernel's
  // DONE or ACK. Request errors come back in Outcome::err; a socket error
  // (ENOBUFS on receive) is returned as an Error with errno kept in `sys_err`.
  template <class F>
  Result<Outcome> request(nlmsghdr* nlh, F&& on_msg, int* sys_err = nullptr) {
    uint32_t want = nlh->nlmsg_seq;
    if (mnl_socket_sendto(sock.get(), nlh, nlh->nlmsg_len) < 0) {
      if (sys_err) *sys_err = errno;
      return std::unexpected(kernelError("netlink send", errno));
    }
    Outcome out;
    for (int guard = 0; guard < 10'000'000; ++guard) {
      ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (sys_err) *sys_err = errno;
        return std::unexpected(kernelError("netlink receive", errno));
      }
      int len = static_cast<int>(n);
      for (auto* m = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
        if (m->nlmsg_seq != want) continue;  // a late reply to something else
        if ((m->nlmsg_flags & NLM_F_DUMP_INTR) != 0) out.interrupted = true;
        if (m->nlmsg_type == NLMSG_DONE) return out;
        if (m->nlmsg_type == NLMSG_ERROR) {
          const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
          out.err = -e->error;
          return out;
        }
        on_msg(m);
      }
    }
    return fail("netlink: no end to the kernel's reply");
  }
};

Socket::Socket(std::unique_ptr<State> state) : s_(std::move(state)) {}
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&&) noexcept = default;
Socket::~Socket() = default;

Result<Socket> Socket::open(int rcvbuf) {
  auto sock = openSocket(0);
  if (!sock) return std::unexpected(sock.error());
  auto st = std::make_unique<State>();
  st->sock = std::move(*sock);
  st->portid = mnl_socket_get_portid(st->sock.get());
  st->seq = static_cast<uint32_t>(time(nullptr));
  if (rcvbuf > 0) st->rcvbuf = rcvbuf;
  int one = 1;
  // Errors carry only the header of the refused message, not all of it.
  mnl_socket_setsockopt(st->sock.get(), NETLINK_CAP_ACK, &one, sizeof one);
  setBuffer(st->fd(), SO_RCVBUFFORCE, SO_RCVBUF, st->rcvbuf);
  return Socket(std::move(st));
}

Result<uint32_t> Socket::generation() {
  char req[kRequestBuffer];
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, ++s_->seq);
  uint32_t gen = 0;
  auto out = s_->request(nlh, [&](const nlmsghdr* m) {
    std::unique_ptr<nftnl_gen, NftnlDeleter<nftnl_gen_free>> g(nftnl_gen_alloc());
    if (nftnl_gen_nlmsg_parse(m, g.get()) >= 0) gen = nftnl_gen_get_u32(g.get(), NFTNL_GEN_ID);
  });
  if (!out) return std::unexpected(out.error());
  if (out->err != 0) return std::unexpected(kernelError("nftables: get generation", out->err));
  return gen;
}

Result<std::optional<Ruleset>> Socket::dump(const std::string& table, SetFilter elements_of) {
  for (int attempt = 0; attempt < kDumpAttempts; ++attempt) {
    int sys_err = 0;
    bool interrupted = false;
    Ruleset rs;
    rs.table = table;
    char req[kRequestBuffer];

    if (s_->injected_overflows > 0) {
      --s_->injected_overflows;
      goto enlarge;
    }
    // The table itself: asked for by name, ENOENT when absent.
    {
      TablePtr t = toNftnl(table);
      nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETTABLE, kFamily, NLM_F_ACK, ++s_->seq);
      nftnl_table_nlmsg_build_payload(nlh, t.get());
      auto out = s_->request(nlh, [](const nlmsghdr*) {}, &sys_err);
      if (!out) {
        if (sys_err == ENOBUFS) goto enlarge;
        return std::unexpected(out.error());
      }
      if (out->err == ENOENT) return std::optional<Ruleset>{};
      if (out->err != 0) return std::unexpected(kernelError("nftables: get table", out->err));
    }
    // Chains of our table.
    {
      ChainPtr filter(nftnl_chain_alloc());
      nftnl_chain_set_str(filter.get(), NFTNL_CHAIN_TABLE, table.c_str());
      nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETCHAIN, kFamily, NLM_F_DUMP, ++s_->seq);
      nftnl_chain_nlmsg_build_payload(nlh, filter.get());
      auto out = s_->request(nlh, [&](const nlmsghdr* m) {
        ChainPtr c(nftnl_chain_alloc());
        if (nftnl_chain_nlmsg_parse(m, c.get()) < 0) return;
        if (table != nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE)) return;
        rs.chains.push_back(fromNftnl(c.get()));
      }, &sys_err);
      if (!out) {
        if (sys_err == ENOBUFS) goto enlarge;
        return std::unexpected(out.error());
      }
      if (out->err != 0) return std::unexpected(kernelError("nftables: dump chains", out->err));
      interrupted |= out->interrupted;
    }
    // Sets, then each set's elements.
    {
      SetPtr filter(nftnl_set_alloc());
      nftnl_set_set_str(filter.get(), NFTNL_SET_TABLE, table.c_str());
      nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSET, kFamily, NLM_F_DUMP, ++s_->seq);
      nftnl_set_nlmsg_build_payload(nlh, filter.get());
      std::vector<SetPtr> sets;
      auto out = s_->request(nlh, [&](const nlmsghdr* m) {
        SetPtr s(nftnl_set_alloc());
        if (nftnl_set_nlmsg_parse(m, s.get()) < 0) return;
        if (table != nftnl_set_get_str(s.get(), NFTNL_SET_TABLE)) return;
        sets.push_back(std::move(s));
      }, &sys_err);
      if (!out) {
        if (sys_err == ENOBUFS) goto enlarge;
        return std::unexpected(out.error());
      }
      if (out->err != 0) return std::unexpected(kernelError("nftables: dump sets", out->err));
      interrupted |= out->interrupted;
      for (SetPtr& s : sets) {
        // Meter sets are filled by the kernel; their elements are not ours.
        const bool wanted = elements_of == nullptr || elements_of(nftnl_set_get_str(s.get(), NFTNL_SET_NAME));
        if (wanted && (nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS) & NFT_SET_EVAL) == 0) {
          nlmsghdr* enl = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSETELEM, kFamily, NLM_F_DUMP, ++s_->seq);
          nftnl_set_elems_nlmsg_build_payload(enl, s.get());
          auto eout = s_->request(enl, [&](const nlmsghdr* m) { nftnl_set_elems_nlmsg_parse(m, s.get()); }, &sys_err);
          if (!eout) {
            if (sys_err == ENOBUFS) goto enlarge;
            return std::unexpected(eout.error());
          }
          if (eout->err != 0) return std::unexpected(kernelError("nftables: dump set elements", eout->err));
          interrupted |= eout->interrupted;
        }
        rs.sets.push_back(fromNftnl(s.get()));
      }
    }
    // Rules of our table, in chain order.
    {
      RulePtr filter(nftnl_rule_alloc());
      nftnl_rule_set_str(filter.get(), NFTNL_RULE_TABLE, table.c_str());
      nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETRULE, kFamily, NLM_F_DUMP, ++s_->seq);
      nftnl_rule_nlmsg_build_payload(nlh, filter.get());
      auto out = s_->request(nlh, [&](const nlmsghdr* m) {
        RulePtr r(nftnl_rule_alloc());
        if (nftnl_rule_nlmsg_parse(m, r.get()) < 0) return;
        if (table != nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)) return;
        rs.rules.push_back(fromNftnl(r.get()));
      }, &sys_err);
      if (!out) {
        if (sys_err == ENOBUFS) goto enlarge;
        return std::unexpected(out.error());
      }
      if (out->err != 0) return std::unexpected(kernelError("nftables: dump rules", out->err));
      interrupted |= out->interrupted;
    }
    if (!interrupted) return std::optional<Ruleset>(std::move(rs));
    continue;
  enlarge:
    // The kernel dropped replies: a bigger receive buffer, then dump again.
    s_->rcvbuf = std::min(s_->rcvbuf * 2, kMaxRcvBuf);
    setBuffer(s_->fd(), SO_RCVBUFFORCE, SO_RCVBUF, s_->rcvbuf);
  }
  return fail("nftables: dump of table {} kept changing or overflowing; gave up after {} attempts", table,
              kDumpAttempts);
}

namespace {

// Builds one transaction. Every message gets its own sequence number and an
// origin ("rule 'ssh' (/etc/rampart/rampart.yaml:12:5)") for error reports.
class BatchWriter {
 public:
  BatchWriter(uint32_t& seq) : seq_(seq), batch_(nftnl_batch_alloc(kBatchPage, kBatchOverrun)) {}

  bool ok() const { return batch_ != nullptr; }

  void begin(uint32_t genid) {
    begin_seq_ = ++seq_;
    nlmsghdr* nlh = nftnl_batch_begin(static_cast<char*>(nftnl_batch_buffer(batch_.get())), begin_seq_);
    // The kernel refuses the whole batch with ERESTART when the ruleset is
    // no longer at this generation (nfnetlink_rcv_batch, Linux >= 4.19).
    mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
    nftnl_batch_update(batch_.get());
  }
  void end() {
    nftnl_batch_end(static_cast<char*>(nftnl_batch_buffer(batch_.get())), ++seq_);
    nftnl_batch_update(batch_.get());
  }

  template <class Build>
  uint32_t add(uint16_t type, uint16_t flags, std::string origin, Build&& build) {
    uint32_t seq = ++seq_;
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(nftnl_batch_buffer(batch_.get())), type, kFamily,
                                         flags, seq);
    build(nlh);
    origins_.emplace(seq, std::move(origin));
    nftnl_batch_update(batch_.get());  // a fresh page when this one is full
    ++messages_;
    return seq;
  }

  size_t messages() const { return messages_; }
  uint32_t beginSeq() const { return begin_seq_; }
  const std::string* originOf(uint32_t seq) const {
    auto it = origins_.find(seq);
    return it == origins_.end() ? nullptr : &it->second;
  }
  nftnl_batch* get() { return batch_.get(); }

 private:
  uint32_t& seq_;
  BatchPtr batch_;
  uint32_t begin_seq_ = 0;
  size_t messages_ = 0;
  std::map<uint32_t, std::string> origins_;
};

std::string ruleOrigin(const KernelRule& r) {
  std::string what;
  switch (r.tag.kind) {
    case RuleKind::Policy:
    case RuleKind::Cli: what = fmt::format("rule '{}'", r.tag.name); break;
    case RuleKind::Meter: what = fmt::format("rule '{}' (limit)", r.tag.name); break;
    case RuleKind::Builtin: what = fmt::format("builtin rule '{}'", r.tag.name); break;
    default: what = fmt::format("rule \"{}\" in chain {}", r.tag.comment(), r.chain); break;
  }
  if (!r.loc.file.empty()) what += fmt::format(" ({})", r.loc.str());
  return what;
}

// Returns the sequence number of each NEWRULE message, by add_rules index.
std::unordered_map<uint32_t, size_t> writeChanges(BatchWriter& w, const std::string& table, const Changes& c) {
  std::unordered_map<uint32_t, size_t> rule_seqs;
  if (c.delete_table)
    w.add(NFT_MSG_DELTABLE, 0, fmt::format("removing table inet {}", table),
          [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, toNftnl(table).get()); });
  for (const KernelRule& r : c.delete_rules)
    w.add(NFT_MSG_DELRULE, 0, "removing " + ruleOrigin(r), [&](nlmsghdr* nlh) {
      RulePtr x(nftnl_rule_alloc());
      nftnl_rule_set_u32(x.get(), NFTNL_RULE_FAMILY, kFamily);
      nftnl_rule_set_str(x.get(), NFTNL_RULE_TABLE, table.c_str());
      nftnl_rule_set_str(x.get(), NFTNL_RULE_CHAIN, r.chain.c_str());
      nftnl_rule_set_u64(x.get(), NFTNL_RULE_HANDLE, r.handle);
      nftnl_rule_nlmsg_build_payload(nlh, x.get());
    });
  for (const std::string& name : c.delete_sets)
    w.add(NFT_MSG_DELSET, 0, fmt::format("removing set '{}'", name), [&](nlmsghdr* nlh) {
      SetPtr s(nftnl_set_alloc());
      nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kFamily);
      nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
      nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
      nftnl_set_nlmsg_build_payload(nlh, s.get());
    });
  for (const std::string& name : c.delete_chains)
    w.add(NFT_MSG_DELCHAIN, 0, fmt::format("removing chain '{}'", name), [&](nlmsghdr* nlh) {
      ChainPtr x(nftnl_chain_alloc());
      nftnl_chain_set_u32(x.get(), NFTNL_CHAIN_FAMILY, kFamily);
      nftnl_chain_set_str(x.get(), NFTNL_CHAIN_TABLE, table.c_str());
      nftnl_chain_set_str(x.get(), NFTNL_CHAIN_NAME, name.c_str());
      nftnl_chain_nlmsg_build_payload(nlh, x.get());
    });
  if (c.create_table)
    w.add(NFT_MSG_NEWTABLE, NLM_F_CREATE, fmt::format("table inet {}", table), [&](nlmsghdr* nlh) {
      nftnl_table_nlmsg_build_payload(nlh, toNftnl(table).get());
    });
  for (const Chain& ch : c.chains)
    w.add(NFT_MSG_NEWCHAIN, NLM_F_CREATE, fmt::format("chain '{}'", ch.name), [&](nlmsghdr* nlh) {
      nftnl_chain_nlmsg_build_payload(nlh, toNftnl(table, ch).get());
    });
  uint32_t set_id = 0;
  for (const Set& s : c.add_sets) {
    w.add(NFT_MSG_NEWSET, NLM_F_CREATE, fmt::format("set '{}'", s.name), [&](nlmsghdr* nlh) {
      SetPtr x = toNftnl(table, s, false);
      nftnl_set_set_u32(x.get(), NFTNL_SET_ID, ++set_id);
      nftnl_set_nlmsg_build_payload(nlh, x.get());
    });
  }
  auto elems = [&](uint16_t type, const Set& s, std::string_view verb) {
    for (size_t i = 0; i < s.elems.size(); i += kElemsPerMessage)
      w.add(type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
            fmt::format("{} elements of set '{}'", verb, s.name), [&](nlmsghdr* nlh) {
              SetPtr x = elemsToNftnl(table, s, i, i + kElemsPerMessage);
              nftnl_set_elems_nlmsg_build_payload(nlh, x.get());
            });
  };
  for (const Set& s : c.delete_elems) elems(NFT_MSG_DELSETELEM, s, "removing");
  for (const Set& s : c.add_sets) elems(NFT_MSG_NEWSETELEM, s, "adding");
  for (const Set& s : c.add_elems) elems(NFT_MSG_NEWSETELEM, s, "adding");
  for (size_t i = 0; i < c.add_rules.size(); ++i) {
    const RuleAdd& a = c.add_rules[i];
    // NLM_F_ECHO: the commit sends the new rule back with its handle.
    uint16_t flags = NLM_F_CREATE | NLM_F_ECHO | (a.after ? NLM_F_APPEND : 0);
    uint32_t seq = w.add(NFT_MSG_NEWRULE, flags, ruleOrigin(a.rule), [&](nlmsghdr* nlh) {
      RulePtr x = toNftnl(table, a.rule);
      nftnl_rule_unset(x.get(), NFTNL_RULE_HANDLE);  // a new rule: the kernel picks its handle
      if (a.position != 0) nftnl_rule_set_u64(x.get(), NFTNL_RULE_POSITION, a.position);
      nftnl_rule_nlmsg_build_payload(nlh, x.get());
    });
    rule_seqs.emplace(seq, i);
  }
  return rule_seqs;
}

}  // namespace

Result<BatchResult> Socket::send(const std::string& table, const Changes& changes, uint32_t genid, bool commit) {
  BatchWriter w(s_->seq);
  if (!w.ok()) return fail("nftables: out of memory for a batch");
  w.begin(genid);
  auto rule_seqs = writeChanges(w, table, changes);
  if (commit) w.end();
  // Room for every echoed rule (about 1 KiB each) next to the errors.
  int needed = static_cast<int>(std::min<size_t>(changes.add_rules.size() * 1024, kMaxRcvBuf));
  if (needed > s_->rcvbuf) {
    s_->rcvbuf = needed;
    setBuffer(s_->fd(), SO_RCVBUFFORCE, SO_RCVBUF, s_->rcvbuf);
  }

  int iovlen = nftnl_batch_iovec_len(w.get());
  std::vector<iovec> iov(static_cast<size_t>(iovlen));
  nftnl_batch_iovec(w.get(), iov.data(), static_cast<uint32_t>(iovlen));
  size_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  // The whole transaction is one datagram: the kernel only commits a batch
  // whose BEGIN and END arrive in the same skb.
  setBuffer(s_->fd(), SO_SNDBUFFORCE, SO_SNDBUF, static_cast<int>(std::min<size_t>(total + 65536, INT32_MAX)));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  msghdr msg{};
  msg.msg_name = &kernel;
  msg.msg_namelen = sizeof kernel;
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  if (sendmsg(s_->fd(), &msg, 0) < 0) return std::unexpected(kernelError("nftables: send batch", errno));

  // The kernel handles the batch inside sendmsg and queues its errors; a
  // GETGEN sent after it is answered after all of them, which tells us
  // when every error has been read.
  char req[kRequestBuffer];
  nlmsghdr* probe = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, ++s_->seq);
  uint32_t probe_seq = probe->nlmsg_seq;
  if (mnl_socket_sendto(s_->sock.get(), probe, probe->nlmsg_len) < 0)
    return std::unexpected(kernelError("netlink send", errno));

  BatchResult result;
  result.messages = w.messages();
  result.added_handles.assign(changes.add_rules.size(), 0);
  std::vector<std::string> errors;
  bool lost = false;
  for (bool done = false; !done;) {
    ssize_t n = mnl_socket_recvfrom(s_->sock.get(), s_->buf.data(), s_->buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {  // too many errors to queue; keep reading
        lost = true;
        continue;
      }
      return std::unexpected(kernelError("netlink receive", errno));
    }
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(s_->buf.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE)) {
        auto it = rule_seqs.find(m->nlmsg_seq);
        RulePtr echoed(nftnl_rule_alloc());
        if (it != rule_seqs.end() && nftnl_rule_nlmsg_parse(m, echoed.get()) >= 0)
          result.added_handles[it->second] = nftnl_rule_get_u64(echoed.get(), NFTNL_RULE_HANDLE);
        continue;
      }
      if (m->nlmsg_type != NLMSG_ERROR) continue;
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
      int err = -e->error;
      if (m->nlmsg_seq == probe_seq) {
        done = true;
        continue;
      }
      if (err == 0) continue;
      if (m->nlmsg_seq == w.beginSeq()) {
        if (err == ERESTART) {
          result.genid_refused = true;
          continue;
        }
        return std::unexpected(kernelError("nftables: batch refused", err));
      }
      if (errors.size() < 10) {
        const std::string* origin = w.originOf(m->nlmsg_seq);
        errors.push_back(fmt::format("{}: {}", origin ? *origin : "message", std::strerror(err)));
      }
    }
  }
  if (!errors.empty()) {
    std::string msgtext = "the kernel refused the change, nothing was applied: ";
    for (size_t i = 0; i < errors.size(); ++i) msgtext += (i ? "; " : "") + errors[i];
    return fail(std::move(msgtext));
  }
  if (lost) return fail("the kernel refused the change, nothing was applied (too many errors to list)");
  return result;
}

void Socket::injectDumpOverflow(int times) { s_->injected_overflows = times; }

int Socket::receiveBuffer() const {
  int size = 0;
  socklen_t len = sizeof size;
  getsockopt(s_->fd(), SOL_SOCKET, SO_RCVBUF, &size, &len);
  return size;
}

Result<void> Socket::deleteTable(const std::string& table) {
  char req[kRequestBuffer];
  TablePtr t = toNftnl(table);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETTABLE, kFamily, NLM_F_ACK, ++s_->seq);
  nftnl_table_nlmsg_build_payload(nlh, t.get());
  auto exists = s_->request(nlh, [](const nlmsghdr*) {});
  if (!exists) return std::unexpected(exists.error());
  if (exists->err == ENOENT) return {};
  if (exists->err != 0) return std::unexpected(kernelError("nftables: get table", exists->err));
  Changes c;
  c.delete_table = true;
  auto sent = send(table, c, 0, true);  // genid 0: no generation check
  if (!sent) return std::unexpected(sent.error());
  return {};
}

// ---- EventSocket ------------------------------------------------------------

struct EventSocket::State {
  MnlSocketPtr sock;
  std::string table;
  bool touched = false;  // the commit being read so far named our table
  std::vector<char> buf = std::vector<char>(kRecvBuffer);
};

EventSocket::EventSocket(std::unique_ptr<State> state) : s_(std::move(state)) {}
EventSocket::EventSocket(EventSocket&&) noexcept = default;
EventSocket& EventSocket::operator=(EventSocket&&) noexcept = default;
EventSocket::~EventSocket() = default;

Result<EventSocket> EventSocket::open(std::string table) {
  auto sock = openSocket(SOCK_NONBLOCK);
  if (!sock) return std::unexpected(sock.error());
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(sock->get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
    return std::unexpected(kernelError("netlink subscribe to nftables events", errno));
  setBuffer(mnl_socket_get_fd(sock->get()), SO_RCVBUFFORCE, SO_RCVBUF, kInitialRcvBuf);
  auto st = std::make_unique<State>();
  st->sock = std::move(*sock);
  st->table = std::move(table);
  return EventSocket(std::move(st));
}

int EventSocket::fd() const { return mnl_socket_get_fd(s_->sock.get()); }

void EventSocket::pause() {
  int group = NFNLGRP_NFTABLES;
  mnl_socket_setsockopt(s_->sock.get(), NETLINK_DROP_MEMBERSHIP, &group, sizeof group);
}

void EventSocket::resume() {
  int group = NFNLGRP_NFTABLES;
  mnl_socket_setsockopt(s_->sock.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group);
}

Result<std::vector<Commit>> EventSocket::read(bool& lost) {
  std::vector<Commit> out;
  lost = false;
  for (int guard = 0; guard < 100'000; ++guard) {
    ssize_t n = recv(fd(), s_->buf.data(), s_->buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        lost = true;
        continue;
      }
      return std::unexpected(Error::fromErrno("netlink events receive"));
    }
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(s_->buf.data()); mnl_nlmsg_ok(m, len); m = mnl_nlmsg_next(m, &len)) {
      if (NFNL_SUBSYS_ID(m->nlmsg_type) != NFNL_SUBSYS_NFTABLES) continue;
      const auto* nfg = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(m));
      if (NFNL_MSG_TYPE(m->nlmsg_type) == NFT_MSG_NEWGEN) {
        Commit c;
        forEachAttr(m, [&](const nlattr* a) {
          switch (mnl_attr_get_type(a)) {
            case NFTA_GEN_ID: c.genid = ntohl(mnl_attr_get_u32(a)); break;
            case NFTA_GEN_PROC_PID: c.pid = ntohl(mnl_attr_get_u32(a)); break;
            case NFTA_GEN_PROC_NAME:
              if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) c.process = mnl_attr_get_str(a);
              break;
            default: break;
          }
        });
        c.touched_table = s_->touched;
        s_->touched = false;
        out.push_back(std::move(c));
        continue;
      }
      if (nfg->nfgen_family != kFamily) continue;
      // Attribute 1 names the table in every nftables object message
      // (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE,
      // NFTA_SET_ELEM_LIST_TABLE, NFTA_OBJ_TABLE, NFTA_FLOWTABLE_TABLE).
      forEachAttr(m, [&](const nlattr* a) {
        if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
            s_->table == mnl_attr_get_str(a))
          s_->touched = true;
      });
    }
  }
  return out;
}

}  // namespace rampart::fw::nl
