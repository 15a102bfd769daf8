"""The recorder: a mitmproxy addon that passes Messages API traffic through and writes anonymized fixtures."""
