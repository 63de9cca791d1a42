/// Placeholder until relabeling lands.
enum RelabelPlaceholder {}
