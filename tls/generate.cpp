#include "tls/generate.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <filesystem>

#include "tls/files.h"
#include "tls/cert_info.h"
#include "tls/x509_build.h"

namespace rampart::tls {
namespace {

bool isIpLiteral(const std::string& host) {
  std::array<unsigned char, 16> buf{};
  return inet_pton(AF_INET, host.c_str(), buf.data()) == 1 || inet_pton(AF_INET6, host.c_str(), buf.data()) == 1;
}

// RFC 1123 labels; a wildcard only as the whole first label.
bool isDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.starts_with("*.")) host.remove_prefix(2);
  std::size_t label = 0;
  char prev = '.';
  for (char c : host) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    } else {
      return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-';
}

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

}  // namespace

Result<void> validateHosts(const std::vector<std::string>& hosts) {
  if (hosts.empty()) return fail("no hosts given");
  if (hosts.size() > 1000) return fail("too many hosts ({}, at most 1000)", hosts.size());
  for (const auto& h : hosts)
    if (!isIpLiteral(h) && !isDnsName(h)) return fail("not a DNS name or IP address: '{}'", h);
  return {};
}

std::vector<std::string> defaultHosts() {
  std::vector<std::string> hosts;
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) == 0 && isDnsName(name.data())) hosts.emplace_back(name.data());
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* a = list; a; a = a->ifa_next) {
      if (!a->ifa_addr) continue;
      char buf[INET6_ADDRSTRLEN] = {};
      if (a->ifa_addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
      } else if (a->ifa_addr->sa_family == AF_INET6) {
        const in6_addr& addr = reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr;
        if (IN6_IS_ADDR_LINKLOCAL(&addr)) continue;  // meaningless without its interface
        inet_ntop(AF_INET6, &addr, buf, sizeof buf);
      } else {
        continue;
      }
      if (std::find(hosts.begin(), hosts.end(), buf) == hosts.end()) hosts.emplace_back(buf);
    }
    ::freeifaddrs(list);
  }
  if (hosts.empty()) hosts.emplace_back("localhost");
  return hosts;
}

Result<CertInfo> generateSelfSigned(const CertSpec& spec, const std::string& cert_path, const std::string& key_path,
                                    bool overwrite) {
  if (auto v = validateHosts(spec.hosts); !v) return std::unexpected(v.error());
  if (!overwrite) {
    for (const auto& p : {cert_path, key_path})
      if (exists(p)) return fail("{} already exists; not overwriting it", p);
  }
  auto key = generateP256Key();
  if (!key) return std::unexpected(key.error());
  auto cert = buildCertificate(spec, CertKind::Leaf, key->get(), Issuer{});
  if (!cert) return std::unexpected(cert.error());
  if (auto w = writeKeyAndCert(cert_path, key_path, cert->get(), key->get()); !w) return std::unexpected(w.error());
  return certInfoOf(cert->get());
}

Result<Identity> ensureSelfSigned(const std::string& cert_path, const std::string& key_path,
                                  const std::vector<std::string>& hosts) {
  bool have_cert = exists(cert_path);
  bool have_key = exists(key_path);
  if (have_cert != have_key)
    return fail("{} exists but {} does not; remove the other or provide both", have_cert ? cert_path : key_path,
                have_cert ? key_path : cert_path);
  if (!have_cert) {
    for (const auto& p : {cert_path, key_path}) {
      auto dir = std::filesystem::path(p).parent_path();
      if (!dir.empty())
        if (auto d = makeDirs(dir.string(), 0755); !d) return std::unexpected(d.error());
    }
    CertSpec spec;
    spec.hosts = hosts;
    if (auto g = generateSelfSigned(spec, cert_path, key_path); !g) return std::unexpected(g.error());
  }
  return Identity::load(cert_path, key_path);
}

}  // namespace rampart::tls
