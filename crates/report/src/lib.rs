//! Reporting: verdict records, text, JSON and SARIF output.
