"""The local stack: template.yaml served on 127.0.0.1 with moto underneath (no Docker, no AWS)."""
