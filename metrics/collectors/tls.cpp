#include "metrics/collectors/tls.h"

#include <set>
#include <utility>

#include "metrics/text.h"

namespace rampart::metrics {

TlsCollector::TlsCollector(TlsCertificatesFn certificates, TlsHandshakesFn handshakes, TlsReloadsFn reloads)
    : certificates_(std::move(certificates)), handshakes_(std::move(handshakes)), reloads_(std::move(reloads)) {}

Result<void> TlsCollector::collect(Families& out) const {
  using prometheus::MetricType;
  if (certificates_) {
    auto& family = addFamily(out, "rampart_tls_certificate_not_after_seconds",
                             "Unix time after which the certificate is no longer valid.",
                             MetricType::Gauge);
    std::set<std::pair<std::string, std::string>> seen;
    for (const TlsCertificate& cert : certificates_()) {
      std::string path = sanitizeLabelValue(cert.path), subject = sanitizeLabelValue(cert.subject);
      if (!seen.emplace(path, subject).second) continue;
      addSample(family, static_cast<double>(cert.not_after),
                {{"path", std::move(path)}, {"subject", std::move(subject)}});
    }
  }
  if (handshakes_) {
    TlsHandshakes h = handshakes_();
    auto& family = addFamily(out, "rampart_tls_handshakes_total",
                             "TLS handshakes on the agent's endpoint by result.",
                             MetricType::Counter);
    addSample(family, static_cast<double>(h.success), {{"result", "success"}});
    addSample(family, static_cast<double>(h.failure), {{"result", "failure"}});
  }
  if (reloads_) {
    TlsReloads r = reloads_();
    auto& family = addFamily(out, "rampart_tls_reloads_total",
                             "Certificate reloads of the agent's endpoint by result; after a failure the previous "
                             "certificate keeps serving.",
                             MetricType::Counter);
    addSample(family, static_cast<double>(r.success), {{"result", "success"}});
    addSample(family, static_cast<double>(r.failure), {{"result", "failure"}});
  }
  return {};
}

}  // namespace rampart::metrics
