// rampart_tls_certificate_not_after_seconds{path,subject},
// rampart_tls_handshakes_total{result} and rampart_tls_reloads_total{result}.
#pragma once

#include "metrics/collector.h"
#include "metrics/sources.h"

namespace rampart::metrics {

class TlsCollector final : public Collector {
 public:
  // Any callback may be empty (its family is then absent).
  TlsCollector(TlsCertificatesFn certificates, TlsHandshakesFn handshakes, TlsReloadsFn reloads = {});
  std::string_view name() const override { return "tls"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  TlsCertificatesFn certificates_;
  TlsHandshakesFn handshakes_;
  TlsReloadsFn reloads_;
};

}  // namespace rampart::metrics
