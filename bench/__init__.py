"""`make bench`: the project's server against plain baselines, and the harness's own speed."""
