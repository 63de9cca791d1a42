/// Placeholder until the operator config generation lands.
enum PrometheusOperatorPlaceholder {}
