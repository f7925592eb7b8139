"""What HR admins run: the org directory import, privacy requests (export and erasure),
organization settings and retention."""
