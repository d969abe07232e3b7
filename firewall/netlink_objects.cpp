#include "firewall/netlink_objects.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

namespace rampart::fw::nl {
namespace {

uint32_t hookNum(Hook h) {
  switch (h) {
    case Hook::Input: return NF_INET_LOCAL_IN;
    case Hook::Forward: return NF_INET_FORWARD;
    case Hook::Output: return NF_INET_LOCAL_OUT;
  }
  return NF_INET_LOCAL_IN;
}

Hook hookFrom(uint32_t num) {
  if (num == NF_INET_FORWARD) return Hook::Forward;
  if (num == NF_INET_LOCAL_OUT) return Hook::Output;
  return Hook::Input;
}

// Ownership of `e` passes to libnftnl (nftnl_rule_add_expr / add_expr).
nftnl_expr* buildExpr(const Expr& x) {
  nftnl_expr* e = nftnl_expr_alloc(x.name.c_str());
  if (e == nullptr) return nullptr;
  for (const ExprAttr& a : x.attrs)
    nftnl_expr_set(e, a.type, a.data.data(), static_cast<uint32_t>(a.data.size()));
  for (const Expr& child : x.children)
    if (nftnl_expr* c = buildExpr(child)) nftnl_expr_add_expr(e, NFTNL_EXPR_DYNSET_EXPRESSIONS, c);
  return e;
}

Expr readExpr(const nftnl_expr* e) {
  Expr x;
  x.name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
  bool dynset = x.name == "dynset";
  // Attribute numbers of every libnftnl expression fit in 1..31.
  for (uint16_t type = NFTNL_EXPR_BASE; type < 32; ++type) {
    if (dynset && (type == NFTNL_EXPR_DYNSET_EXPR || type == NFTNL_EXPR_DYNSET_EXPRESSIONS)) continue;
    if (!nftnl_expr_is_set(e, type)) continue;
    uint32_t len = 0;
    const auto* p = static_cast<const uint8_t*>(nftnl_expr_get(e, type, &len));
    if (p == nullptr) continue;
    x.attrs.push_back(ExprAttr{type, Bytes(p, p + len)});
  }
  if (dynset) {
    nftnl_expr_expr_foreach(
        e,
        [](nftnl_expr* c, void* data) {
          static_cast<Expr*>(data)->children.push_back(readExpr(c));
          return 0;
        },
        &x);
  }
  return x;
}

// `counted`: the element's counter starts from these values (a rule that
// moved into a rule table keeps its count, diff.h carryCounters); the set
// must have counters. Without it the kernel gives the element the set's
// counter at zero.
void addElem(nftnl_set* s, const Bytes& key, uint32_t flags, std::optional<uint64_t> timeout,
             const std::string& comment = {}, const SetElem* counted = nullptr) {
  nftnl_set_elem* e = nftnl_set_elem_alloc();
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key.data(), static_cast<uint32_t>(key.size()));
  if (flags != 0) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
  if (timeout) nftnl_set_elem_set_u64(e, NFTNL_SET_ELEM_TIMEOUT, *timeout);
  if (!comment.empty()) {
    // The same TLV layout as a rule's comment (NFTNL_UDATA_SET_ELEM_COMMENT).
    Bytes ud = commentUserdata(comment);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, ud.data(), static_cast<uint32_t>(ud.size()));
  }
  if (counted != nullptr) {
    // counter packets N bytes M, in place of the set's own (same type, so
    // the kernel takes it as the element's copy of the set's expressions).
    nftnl_expr* c = nftnl_expr_alloc("counter");
    nftnl_expr_set_u64(c, NFTNL_EXPR_CTR_PACKETS, counted->packets);
    nftnl_expr_set_u64(c, NFTNL_EXPR_CTR_BYTES, counted->bytes);
    nftnl_set_elem_add_expr(e, c);  // the element owns it
  }
  nftnl_set_elem_add(s, e);  // the set owns the element now
}

// An interval [key, key_end) is two kernel elements: its start and its end
// flagged NFT_SET_ELEM_INTERVAL_END (none when it runs to the top).
void addElems(nftnl_set* s, const Set& set, size_t first, size_t last) {
  for (size_t i = first; i < last && i < set.elems.size(); ++i) {
    const SetElem& e = set.elems[i];
    const bool counted = set.counters && (e.packets != 0 || e.bytes != 0);
    addElem(s, e.key, 0, e.timeout_ms, e.comment, counted ? &e : nullptr);
    // The kernel refuses a timeout on an end element: the start carries it.
    if (set.interval() && !e.key_end.empty()) addElem(s, e.key_end, NFT_SET_ELEM_INTERVAL_END, std::nullopt);
  }
}

}  // namespace

TablePtr toNftnl(const std::string& table) {
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, kFamily);
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  // No NFT_TABLE_F_OWNER: an owned table dies with its netlink socket, and
  // the firewall must stay when the agent stops (fail closed). Owner is only
  // safe together with NFT_TABLE_F_PERSIST (kernel >= 6.9), which the
  // installed uapi headers do not define yet.
  return t;
}

ChainPtr toNftnl(const std::string& table, const Chain& chain) {
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, kFamily);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, "filter");
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, hookNum(chain.hook));
  nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, chain.priority);
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, chain.policy == ChainPolicy::Drop ? NF_DROP : NF_ACCEPT);
  return c;
}

RulePtr toNftnl(const std::string& table, const KernelRule& rule) {
  RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, kFamily);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, rule.chain.c_str());
  if (rule.handle != 0) nftnl_rule_set_u64(r.get(), NFTNL_RULE_HANDLE, rule.handle);
  Bytes ud = commentUserdata(rule.tag.comment());
  nftnl_rule_set_data(r.get(), NFTNL_RULE_USERDATA, ud.data(), static_cast<uint32_t>(ud.size()));
  for (const Expr& x : rule.exprs)
    if (nftnl_expr* e = buildExpr(x)) nftnl_rule_add_expr(r.get(), e);  // the rule owns it
  return r;
}

SetPtr toNftnl(const std::string& table, const Set& set, bool with_elems) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kFamily);
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, set.flags);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, set.key_type);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, set.key_len);
  if (set.timeout_ms) nftnl_set_set_u64(s.get(), NFTNL_SET_TIMEOUT, *set.timeout_ms);
  if (set.size != 0) nftnl_set_set_u32(s.get(), NFTNL_SET_DESC_SIZE, set.size);
  // `counter` on the set: the kernel gives each element a counter of its own.
  if (set.counters) nftnl_set_add_expr(s.get(), nftnl_expr_alloc("counter"));
  if (with_elems) {
    addElems(s.get(), set, 0, set.elems.size());
  }
  return s;
}

SetPtr elemsToNftnl(const std::string& table, const Set& set, size_t first, size_t last) {
  SetPtr s(nftnl_set_alloc());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, kFamily);
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, set.name.c_str());
  addElems(s.get(), set, first, last);
  return s;
}

Chain fromNftnl(const nftnl_chain* c) {
  Chain out;
  out.name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) out.hook = hookFrom(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM));
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_PRIO)) out.priority = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY))
    out.policy = nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_DROP ? ChainPolicy::Drop : ChainPolicy::Accept;
  out.handle = nftnl_chain_get_u64(c, NFTNL_CHAIN_HANDLE);
  return out;
}

KernelRule fromNftnl(const nftnl_rule* r) {
  KernelRule out;
  out.chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
  out.handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
  if (nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) {
    uint32_t len = 0;
    const void* ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
    out.tag = RuleTag::parse(commentFromUserdata(ud, len));
  }
  nftnl_expr_iter* it = nftnl_expr_iter_create(r);
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e != nullptr; e = nftnl_expr_iter_next(it))
    out.exprs.push_back(readExpr(e));
  nftnl_expr_iter_destroy(it);
  return out;
}

Set fromNftnl(const nftnl_set* s) {
  Set out;
  out.name = nftnl_set_get_str(s, NFTNL_SET_NAME);
  out.flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
  out.key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
  out.key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
  if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT) && nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT) != 0)
    out.timeout_ms = nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT);
  if (nftnl_set_is_set(s, NFTNL_SET_DESC_SIZE)) out.size = nftnl_set_get_u32(s, NFTNL_SET_DESC_SIZE);
  out.handle = nftnl_set_get_u64(s, NFTNL_SET_HANDLE);

  nftnl_set_expr_foreach(
      s,
      [](nftnl_expr* e, void* data) {
        if (std::string_view(nftnl_expr_get_str(e, NFTNL_EXPR_NAME)) == "counter") *static_cast<bool*>(data) = true;
        return 0;
      },
      &out.counters);

  struct Raw {
    Bytes key;
    bool end;
    std::optional<uint64_t> expiration;
    std::string comment;
    uint64_t packets = 0;
    uint64_t bytes = 0;
  };
  std::vector<Raw> raw;
  nftnl_set_elem_foreach(
      const_cast<nftnl_set*>(s),  // libnftnl's iterator is not const-correct
      [](nftnl_set_elem* e, void* data) {
        uint32_t len = 0;
        const auto* k = static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
        Raw item{Bytes(k, k + len), false, std::nullopt, {}, 0, 0};
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
          uint32_t ud_len = 0;
          const void* ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &ud_len);
          item.comment = commentFromUserdata(ud, ud_len);
        }
        nftnl_set_elem_expr_foreach(
            e,
            [](nftnl_expr* x, void* out_item) {
              if (std::string_view(nftnl_expr_get_str(x, NFTNL_EXPR_NAME)) != "counter") return 0;
              auto* r = static_cast<Raw*>(out_item);
              r->packets = nftnl_expr_get_u64(x, NFTNL_EXPR_CTR_PACKETS);
              r->bytes = nftnl_expr_get_u64(x, NFTNL_EXPR_CTR_BYTES);
              return 0;
            },
            &item);
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS))
          item.end = (nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END) != 0;
        if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
          item.expiration = nftnl_set_elem_get_u64(e, NFTNL_SET_ELEM_EXPIRATION);
        static_cast<std::vector<Raw>*>(data)->push_back(std::move(item));
        return 0;
      },
      &raw);
  std::ranges::sort(raw, {}, &Raw::key);
  bool open = false;
  for (Raw& r : raw) {
    if (!out.interval() || !r.end) {
      out.elems.push_back(SetElem{std::move(r.key), {}, std::nullopt, r.expiration, std::nullopt, std::move(r.comment), r.packets,
                                  r.bytes});
      open = out.interval();
    } else if (open) {
      out.elems.back().key_end = std::move(r.key);
      open = false;
    }
  }
  std::ranges::sort(out.elems);
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  for (SetElem& e : out.elems)
    if (e.expiration_ms) e.expires_at_ms = now_ms + static_cast<int64_t>(*e.expiration_ms);
  return out;
}

Bytes commentUserdata(const std::string& comment) {
  // TLV: type NFTNL_UDATA_RULE_COMMENT, length, the string with its NUL.
  size_t len = std::min<size_t>(comment.size(), 254);
  Bytes out(len + 3, 0);
  out[0] = NFTNL_UDATA_RULE_COMMENT;
  out[1] = static_cast<uint8_t>(len + 1);
  std::copy_n(comment.begin(), len, out.begin() + 2);
  return out;
}

std::string commentFromUserdata(const void* data, uint32_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (uint32_t off = 0; off + 2 <= len;) {
    uint8_t type = p[off], l = p[off + 1];
    if (off + 2 + l > len) break;
    if (type == NFTNL_UDATA_RULE_COMMENT && l > 0) {
      const char* s = reinterpret_cast<const char*>(p + off + 2);
      return std::string(s, strnlen(s, l));
    }
    off += 2u + l;
  }
  return {};
}

}  // namespace rampart::fw::nl
