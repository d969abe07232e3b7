// rampart_tls_certificate_not_after_seconds{path,subject} and
// rampart_tls_handshakes_total{result}.
#pragma once

#include "metrics/collector.h"
#include "metrics/sources.h"

namespace rampart::metrics {

class TlsCollector final : public Collector {
 public:
  // Either callback may be empty (its family is then absent).
  TlsCollector(TlsCertificatesFn certificates, TlsHandshakesFn handshakes);
  std::string_view name() const override { return "tls"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  TlsCertificatesFn certificates_;
  TlsHandshakesFn handshakes_;
};

}  // namespace rampart::metrics
