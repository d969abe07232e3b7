// The `tls` verbs: init, ca init, ca sign, show. They work offline, on files;
// none needs the agent.
#include <sys/stat.h>

#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "agent/cli.h"
#include "agent/config.h"
#include "common/text.h"
#include "tls/ca.h"
#include "tls/files.h"
#include "tls/generate.h"
#include "tls/identity.h"

namespace rampart::agent {
namespace {

struct TlsArgs {
  std::vector<std::string> hosts;
  int days = tls::kDefaultNodeDays;
  std::string dir;
  bool force = false;
  std::string ca_dir;
  std::string ca_name = "rampart fleet CA";
  int ca_days = tls::kDefaultCaDays;
  std::string out;
  bool client = false;
  std::string csr;
  std::string show_file;
  bool json = false;
};

std::string isoTime(tls::Clock::time_point t) {
  return fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(t));
}

int64_t daysLeft(tls::Clock::time_point not_after) {
  return std::chrono::floor<std::chrono::days>(not_after - tls::Clock::now()).count();
}

std::string sanList(const tls::CertInfo& c) {
  std::string out;
  for (const auto& d : c.dns_names) out += (out.empty() ? "" : ", ") + ("DNS:" + d);
  for (const auto& ip : c.ip_addresses) out += (out.empty() ? "" : ", ") + ("IP:" + ip);
  return out.empty() ? "(none)" : out;
}

nlohmann::json toJson(const tls::CertInfo& c) {
  return {{"subject", c.subject},
          {"issuer", c.issuer},
          {"dns_names", c.dns_names},
          {"ip_addresses", c.ip_addresses},
          {"not_before", isoTime(c.not_before)},
          {"not_after", isoTime(c.not_after)},
          {"not_after_seconds", std::chrono::duration_cast<std::chrono::seconds>(c.not_after.time_since_epoch()).count()},
          {"days_left", daysLeft(c.not_after)},
          {"serial", c.serial},
          {"sha256_fingerprint", c.sha256_fingerprint},
          {"is_ca", c.is_ca}};
}

void printCert(const tls::CertInfo& c) {
  const int64_t left = daysLeft(c.not_after);
  std::printf("  subject:     %s\n", c.subject.c_str());
  std::printf("  SANs:        %s\n", sanList(c).c_str());
  std::printf("  issuer:      %s%s\n", c.issuer.c_str(), c.issuer == c.subject ? " (self-signed)" : "");
  std::printf("  not before:  %s\n", isoTime(c.not_before).c_str());
  std::printf("  not after:   %s (%s)\n", isoTime(c.not_after).c_str(),
              left < 0 ? fmt::format("expired {} days ago", -left).c_str()
                       : fmt::format("{} days left", left).c_str());
  std::printf("  serial:      %s\n", c.serial.c_str());
  std::printf("  sha256:      %s\n", c.sha256_fingerprint.c_str());
  if (c.is_ca) std::printf("  CA:          yes\n");
}

void fail(CliContext& ctx, const std::string& message) {
  // TLS errors name the file they were loading, as the user typed it.
  std::fprintf(stderr, "rampart: %s\n", printableLine(message).c_str());
  ctx.exit_code = kExitError;
}

// Where the agent's certificate is: the configuration's cert_file when the
// file reads, else the default.
std::string agentCertPath(const CliContext& ctx) {
  struct stat st {};
  if (::stat(ctx.config_path.c_str(), &st) == 0)
    if (auto cfg = loadConfig(ctx.config_path)) return cfg->web.tls.cert_file;
  return defaultConfig().web.tls.cert_file;
}

void runInit(CliContext& ctx, const TlsArgs& a) {
  tls::CertSpec spec;
  spec.hosts = a.hosts.empty() ? tls::defaultHosts() : a.hosts;
  spec.days = a.days;
  std::string dir = a.dir.empty() ? std::string(kDefaultStateDir) + "/tls" : a.dir;
  if (auto d = tls::makeDirs(dir, 0755); !d) return fail(ctx, d.error().message);
  const std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  auto info = tls::generateSelfSigned(spec, cert, key, a.force);
  if (!info) return fail(ctx, info.error().message + (a.force ? "" : " (--force replaces it)"));
  std::printf("wrote %s and %s (ECDSA P-256, self-signed)\n", cert.c_str(), key.c_str());
  printCert(*info);
}

void runCaInit(CliContext& ctx, const TlsArgs& a) {
  auto info = tls::initCa(a.ca_dir, a.ca_name, a.ca_days);
  if (!info) return fail(ctx, info.error().message);
  auto paths = tls::CaPaths::in(a.ca_dir);
  std::printf("wrote %s and %s; keep the key offline\n", paths.cert.c_str(), paths.key.c_str());
  printCert(*info);
}

void runCaSign(CliContext& ctx, const TlsArgs& a) {
  tls::CertSpec spec;
  spec.hosts = a.hosts;
  spec.days = a.days;
  spec.client_auth = a.client;
  if (a.csr.empty() && a.hosts.empty()) {
    std::fprintf(stderr, "rampart: tls ca sign: --hosts is required (or --csr FILE)\n");
    ctx.exit_code = kExitUsage;
    return;
  }
  std::string prefix = a.out;
  if (prefix.empty()) {
    std::string name = !a.hosts.empty() ? a.hosts.front() : "signed";
    prefix = a.ca_dir + "/" + name;
  }
  auto signed_cert = a.csr.empty() ? tls::signNode(a.ca_dir, spec, prefix) : tls::signCsr(a.ca_dir, a.csr, spec, prefix);
  if (!signed_cert) return fail(ctx, signed_cert.error().message);
  if (signed_cert->key_path.empty())
    std::printf("wrote %s\n", signed_cert->cert_path.c_str());
  else
    std::printf("wrote %s and %s\n", signed_cert->cert_path.c_str(), signed_cert->key_path.c_str());
  printCert(signed_cert->info);
}

void runShow(CliContext& ctx, const TlsArgs& a) {
  std::string path = a.show_file.empty() ? agentCertPath(ctx) : a.show_file;
  auto certs = tls::readCertificates(path);
  if (!certs) return fail(ctx, certs.error().message);
  if (a.json) {
    nlohmann::json out = {{"path", path}, {"certificates", nlohmann::json::array()}};
    for (const auto& c : *certs) out["certificates"].push_back(toJson(c));
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  for (std::size_t i = 0; i < certs->size(); ++i) {
    std::printf("%s: certificate %zu of %zu\n", path.c_str(), i + 1, certs->size());
    printCert((*certs)[i]);
  }
}

}  // namespace

void addTlsCommands(CLI::App& app, CliContext& ctx) {
  auto args = std::make_shared<TlsArgs>();
  auto* tls_cmd = app.add_subcommand("tls", "certificates: generate, fleet CA, show");
  tls_cmd->require_subcommand(1);

  auto* init = tls_cmd->add_subcommand("init", "an ECDSA P-256 key and a self-signed certificate");
  init->add_option("--hosts", args->hosts, "DNS names and IP addresses (default: host name and every address)")
      ->delimiter(',');
  init->add_option("--days", args->days, "validity in days")->check(CLI::Range(1, 36500));
  init->add_option("--dir", args->dir, "where cert.pem and key.pem go (default /var/lib/rampart/tls)");
  init->add_flag("--force", args->force, "replace existing files");
  init->callback([&ctx, args] { runInit(ctx, *args); });

  auto* ca = tls_cmd->add_subcommand("ca", "a small fleet CA");
  ca->require_subcommand(1);
  auto* ca_init = ca->add_subcommand("init", "create the CA key and certificate in DIR");
  ca_init->add_option("DIR", args->ca_dir, "the CA directory")->required();
  ca_init->add_option("--name", args->ca_name, "the CA's common name");
  ca_init->add_option("--days", args->ca_days, "validity in days (default 3650)")->check(CLI::Range(1, 36500));
  ca_init->callback([&ctx, args] { runCaInit(ctx, *args); });

  auto* sign = ca->add_subcommand("sign", "a node certificate signed by the CA in DIR");
  sign->add_option("DIR", args->ca_dir, "the CA directory")->required();
  sign->add_option("--hosts", args->hosts, "DNS names and IP addresses")->delimiter(',');
  sign->add_option("--out", args->out, "write PREFIX.pem and PREFIX-key.pem (default DIR/FIRST-HOST)");
  sign->add_option("--days", args->days, "validity in days")->check(CLI::Range(1, 36500));
  sign->add_flag("--client", args->client, "also usable as a client certificate (mTLS)");
  sign->add_option("--csr", args->csr, "sign this certificate request instead of making a key");
  sign->callback([&ctx, args] { runCaSign(ctx, *args); });

  auto* show = tls_cmd->add_subcommand("show", "subject, SANs, issuer, expiry of a certificate file");
  show->add_option("FILE", args->show_file, "PEM file (default: the agent's certificate)");
  show->add_flag("--json", args->json, "machine-readable output");
  show->callback([&ctx, args] { runShow(ctx, *args); });
}

}  // namespace rampart::agent
