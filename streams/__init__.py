"""Stream processors (faust-streaming): raw callbacks -> events, dedupe, message lifecycle, aggregates."""
