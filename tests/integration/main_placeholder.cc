// Replaced by the integration suite.
